"""Every route of the admin app declares who may call it; a route without one breaks the build."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from admin.access.deps import endpoints
from admin.api.access_table import render
from core.bus.memory import InMemoryBus
from core.db import Database
from tests.conftest import admin_app

OPEN = {"/healthz", "/api/v1/auth/login", "/api/v1/openapi.json", "/docs", "/login"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    yield admin_app(Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"), InMemoryBus())


def test_the_app_has_routes_to_check(app: FastAPI) -> None:
    assert len(endpoints(app)) > 20


def test_every_route_declares_who_may_call_it(app: FastAPI) -> None:
    undeclared = [f"{sorted(e.methods)} {e.path}" for e in endpoints(app) if e.access is None]
    assert undeclared == [], "routes without a declared role: " + ", ".join(undeclared)


def test_only_health_the_sign_in_forms_and_the_api_description_are_open(app: FastAPI) -> None:
    assert {e.path for e in endpoints(app) if e.access == "public"} == OPEN


def test_every_change_needs_at_least_an_operator(app: FastAPI) -> None:
    # your own session, tokens and preferences
    own = (
        "/api/v1/auth/logout",
        "/api/v1/auth/tokens",
        "/logout",
        "/me/preferences",
        "/me/tokens",
        "/me/telegram",
    )
    # computed answers that change nothing, posted because a scene's text is too long for a URL
    read_only = (
        "/api/v1/scenarios/check",
        "/api/v1/scenarios/{scenario_id}/simulate",
        "/scenes/check",
    )
    loose = [
        f"{sorted(e.methods)} {e.path}"
        for e in endpoints(app)
        if e.methods - {"GET", "HEAD"}
        and e.path not in ("/api/v1/auth/login", "/login", *read_only)
        and not e.path.startswith(own)
        and e.access in ("public", "viewer")
    ]
    assert loose == []


def test_users_are_managed_by_owners_only(app: FastAPI) -> None:
    assert {e.access for e in endpoints(app) if e.path.startswith("/api/v1/users")} == {"owner"}


def test_the_committed_access_table_is_what_the_app_declares(app: FastAPI) -> None:
    committed = (Path(__file__).parents[2] / "docs" / "api-access.md").read_text("utf-8")
    assert committed == render(app), "run: python -m admin.api.access_table > docs/api-access.md"
