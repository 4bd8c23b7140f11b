"""A search typed into the API never reaches PostgreSQL with a character it refuses, and a NUL
that some field does not check yet is a 422, not a 500."""

from __future__ import annotations

import pytest

from core.access import Role
from tests.integration.conftest import Panel


async def test_a_control_character_in_the_accounts_search_is_refused_by_name(
    panel: Panel,
) -> None:
    api = panel.api(Role.viewer)
    answer = await api.get("/accounts", params={"search": "parser\x00-1"})
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["detail"]
    assert problem["field"] == "search" and "control" in problem["reason"]
    assert (await api.get("/accounts", params={"search": ""})).status_code == 200
    assert (await api.get("/accounts", params={"search": "parser"})).status_code == 200


# SQLite stores a NUL; PostgreSQL refuses it, and that refusal must not be a 500.
@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_a_nul_no_field_checked_yet_reaches_postgresql_as_a_422_and_nothing_is_written(
    panel: Panel,
) -> None:
    api = panel.api(Role.admin)
    answer = await api.post("/chats", json={"ref": "@nul_chat", "title": "Jobs\x00"})
    assert answer.status_code == 422, answer.text
    assert "NUL" in answer.json()["detail"][0]["reason"]
    listed = (await api.get("/chats")).json()
    assert "@nul_chat" not in str(listed)
