"""The panel with one client per role, on the test workspace: the admin's browser (signed in
through the form, sending the CSRF token) and an API client per role. Import the fixtures into a
test module; override ``panel_bus`` there to run the app on another bus (a real broker)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from admin.workspace.apply import apply_workspace, read_workspace
from core.access import Role
from core.bus import Bus
from core.bus.factory import make_bus
from core.db import Database
from core.security import SecretBox
from tests.conftest import PASSWORD, add_people, admin_app, bearer
from tests.integration.conftest import workspace


@dataclass
class Panel:
    db: Database
    bus: Bus
    transport: httpx.ASGITransport
    tokens: dict[Role, str]
    opened: list[httpx.AsyncClient] = field(default_factory=list)

    async def browser(self, role: Role = Role.admin) -> httpx.AsyncClient:
        """A cookie-keeping client signed in through the form as ``role``."""
        http = httpx.AsyncClient(transport=self.transport, base_url="http://127.0.0.1")
        self.opened.append(http)
        signed = await http.post("/login", data={"login": role.value, "password": PASSWORD})
        assert signed.status_code == 303, signed.text
        http.headers["X-CSRFToken"] = http.cookies["csrftoken"]
        return http

    def api(self, role: Role = Role.admin) -> httpx.AsyncClient:
        http = httpx.AsyncClient(
            transport=self.transport,
            base_url="http://127.0.0.1/api/v1",
            headers=bearer(self.tokens[role]),
        )
        self.opened.append(http)
        return http


@pytest.fixture
def panel_bus() -> Bus:
    return make_bus("memory://")


@pytest.fixture
async def panel(
    database: Database, secret_box: SecretBox, tmp_path: Path, panel_bus: Bus
) -> AsyncIterator[Panel]:
    path = tmp_path / "ws.yaml"
    path.write_text(workspace(), encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    tokens = await add_people(database)
    app = admin_app(database, panel_bus)
    app.exception_handlers.pop(Exception)  # a 500 fails the test loudly
    shown = Panel(database, panel_bus, httpx.ASGITransport(app=app), tokens)
    yield shown
    for http in shown.opened:
        await http.aclose()
