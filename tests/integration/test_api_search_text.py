"""A search typed into the API never reaches PostgreSQL with a character it refuses."""

from __future__ import annotations

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
