"""The read-only API: real rows through real HTTP handling, clear 422s for bad input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from admin.workspace.apply import apply_workspace, read_workspace
from core.access import Role
from core.bus import PermanentError
from core.bus.memory import InMemoryBus
from core.db import Database
from core.events import Event
from core.security import SecretBox
from tests.conftest import add_people, admin_app, bearer

WORKSPACE = """\
accounts:
  - {name: parser-1, role: parser, session: "top-secret-session"}
keyword_sets:
  - {name: web-dev, keywords: [разработчик]}
campaigns:
  - {name: web, keyword_sets: [web-dev], chats: ["@jobs_chat"], parser_accounts: [parser-1]}
"""


@pytest.fixture
async def bus(tmp_path: Path) -> AsyncIterator[InMemoryBus]:
    bus = InMemoryBus(url=f"memory://{tmp_path.name}")
    await bus.start()
    yield bus
    await bus.close()


@pytest.fixture
async def client(
    database: Database, bus: InMemoryBus, secret_box: SecretBox, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    path = tmp_path / "ws.yaml"
    path.write_text(WORKSPACE, encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    tokens = await add_people(database)
    app = admin_app(database, bus)
    app.exception_handlers.pop(Exception)
    transport = httpx.ASGITransport(app=app)
    headers = bearer(tokens[Role.admin])
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1", headers=headers
    ) as http:
        yield http


async def test_accounts_show_state_but_never_the_session(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/accounts")
    assert response.status_code == 200, response.text
    [account] = response.json()
    assert account["name"] == "parser-1" and account["has_session"] is True
    assert "top-secret-session" not in response.text


async def test_campaigns_and_chats_are_listed(client: httpx.AsyncClient) -> None:
    campaigns = (await client.get("/api/v1/campaigns")).json()
    assert campaigns[0]["keyword_sets"] == ["web-dev"] and campaigns[0]["leads"] == 0
    chats = (await client.get("/api/v1/chats")).json()
    assert [c["ref"] for c in chats] == ["@jobs_chat"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("offset=-1", "offset"),
        ("since=yesterday", "since"),
    ],
)
async def test_bad_query_parameter_gets_422_naming_the_field(
    client: httpx.AsyncClient, query: str, field: str
) -> None:
    response = await client.get(f"/api/v1/leads?{query}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == field


async def test_unknown_lead_is_a_404_with_a_message(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/leads/999")
    assert response.status_code == 404
    assert response.json() == {"detail": "lead 999 not found"}


async def test_health_and_metrics_answer(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert "python_gc_objects_collected_total" in (await client.get("/metrics")).text


async def test_dead_letters_show_the_queue_and_the_reason(
    client: httpx.AsyncClient, bus: InMemoryBus
) -> None:
    async def refuse(_event: Event) -> None:
        raise PermanentError("lead 42 does not exist")

    await bus.subscribe("parser.messages", ["test.poison"], refuse)
    await bus.publish(Event(name="test.poison", payload={"lead_id": 42}))

    async def listed() -> list[dict[str, object]]:
        body: list[dict[str, object]] = (await client.get("/api/v1/dead-letters")).json()
        return body

    for _ in range(100):
        if letters := await listed():
            break
        await asyncio.sleep(0.02)
    [letter] = letters
    assert letter["queue"] == "parser.messages"
    assert letter["reason"] == "PermanentError: lead 42 does not exist"
