"""Every page of the panel, for every role, with no data and with 10,000 rows: it renders, or
answers 403 to a role that may not see it — never a 500, never an empty shell. The pages are
read from the app itself, so a page added later is covered without touching this test."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, select

from admin.access.deps import endpoints
from admin.workspace.apply import apply_workspace, read_workspace
from core.access import Role
from core.bus.factory import make_bus
from core.db import Database
from core.db.models import (
    Account,
    Campaign,
    Chat,
    Conversation,
    ConversationMessage,
    KeywordSet,
    Lead,
)
from core.db.scene_models import Scenario, SceneRun
from core.security import SecretBox
from tests.conftest import PASSWORD, add_people, admin_app
from tests.integration.conftest import workspace
from tests.integration.scenes_world import a_scene_with_a_run

ROWS = 10_000
NOT_PAGES = ("/api/", "/static", "/live", "/docs", "/healthz", "/metrics", "/login", "/logout")
_PARAM = re.compile(r"\{(\w+)\}")


@pytest.fixture
async def app_db(database: Database, secret_box: SecretBox, tmp_path: Path) -> Database:
    path = tmp_path / "ws.yaml"
    path.write_text(workspace(), encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    await add_people(database)
    await a_scene_with_a_run(database)
    return database


async def seed(db: Database, rows: int) -> None:
    """``rows`` leads, each with a conversation of two messages, in bulk."""
    now = datetime.now(UTC)
    async with db.transaction() as session:
        campaign = await session.scalar(select(Campaign.id).limit(1))
        leads = [
            {
                "campaign_id": campaign,
                "telegram_user_id": 10_000_000 + n,
                "username": f"user{n}",
                "profile": {"first_name": f"Lead {n}"},
                "chat_id": -100,
                "chat_ref": "@jobs",
                "message_id": n + 1,
                "text": f"Ищу разработчика, задача номер {n}",
                "link": None,
                "keywords": ["разработчик"],
                "hits": 1,
                "status": "contacted",
                "first_seen_at": now - timedelta(minutes=n),
                "last_seen_at": now - timedelta(minutes=n),
            }
            for n in range(rows)
        ]
        lead_ids = list(await session.scalars(insert(Lead).returning(Lead.id), leads))
        statuses = ("awaiting_approval", "active", "handoff", "finished", "opted_out")
        conversations = [
            {
                "campaign_id": campaign,
                "lead_id": lead_id,
                "telegram_user_id": 10_000_000 + n,
                "username": f"user{n}",
                "status": statuses[n % len(statuses)],
                "stage": "introduction",
                "turns": 1,
            }
            for n, lead_id in enumerate(lead_ids)
        ]
        ids = list(
            await session.scalars(insert(Conversation).returning(Conversation.id), conversations)
        )
        messages = [
            {
                "conversation_id": conversation_id,
                "direction": direction,
                "slot": slot,
                "kind": "first" if direction == "out" else "turn",
                "text": "Здравствуйте!" if direction == "out" else "Да, интересно",
                "status": "pending_approval" if n % 5 == 0 and direction == "out" else "sent",
            }
            for n, conversation_id in enumerate(ids)
            for direction, slot in (("out", 0), ("in", 1))
        ]
        await session.execute(insert(ConversationMessage), messages)


@pytest.fixture
async def panel(app_db: Database) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    app = admin_app(app_db, make_bus("memory://"))
    app.exception_handlers.pop(Exception)  # a 500 fails the test loudly
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http, app_db


async def _pages(http: httpx.AsyncClient, db: Database) -> list[tuple[str, str, bool]]:
    """(address, role needed, whether the row it names is missing) of every page, with ids
    filled in from real rows."""
    app = http._transport.app  # type: ignore[attr-defined]
    async with db.session() as session:
        conversation = await session.scalar(select(Conversation.id).limit(1))
        lead = await session.scalar(select(Lead.id).limit(1))
        draft = await session.scalar(select(ConversationMessage.id).limit(1))
        keyword_set = await session.scalar(select(KeywordSet.id).limit(1))
        account = await session.scalar(select(Account.id).limit(1))
        campaign = await session.scalar(select(Campaign.id).limit(1))
        chat = await session.scalar(select(Chat.id).limit(1))
        scenario = await session.scalar(select(Scenario.id).limit(1))
        run = await session.scalar(select(SceneRun.id).limit(1))
    values = {
        "account_id": account,
        "campaign_id": campaign,
        "chat_id": chat,
        "conversation_id": conversation,
        "lead_id": lead,
        "message_id": draft,
        "set_id": keyword_set,
        "login": "owner",
        "scenario_id": scenario,
        "run_id": run,
    }
    pages = []
    for endpoint in endpoints(app):
        if "GET" not in endpoint.methods or endpoint.path.startswith(NOT_PAGES):
            continue
        names = _PARAM.findall(endpoint.path)
        missing = any(values.get(name) is None for name in names)  # no such row: a 404 page
        address = _PARAM.sub(lambda m: str(values.get(m.group(1)) or 1), endpoint.path)
        pages.append((address, endpoint.access or "public", missing))
    assert len(pages) >= 5
    return pages


async def sign_in(http: httpx.AsyncClient, role: Role) -> None:
    http.cookies.clear()
    answer = await http.post("/login", data={"login": role.value, "password": PASSWORD})
    assert answer.status_code == 303, answer.text


def _allowed(role: Role, needed: str) -> bool:
    if needed in Role.__members__:
        return role.allows(Role(needed))
    return True  # public, or any signed-in user


@pytest.mark.parametrize("rows", [0, ROWS])
async def test_every_page_renders_for_every_role_or_refuses_it(
    panel: tuple[httpx.AsyncClient, Database], rows: int
) -> None:
    http, db = panel
    if rows:
        await seed(db, rows)
    for role in Role:
        await sign_in(http, role)
        for address, needed, missing in await _pages(http, db):
            answer = await http.get(address)
            where = f"{role.value} GET {address}: {answer.status_code}"
            if not _allowed(role, needed):
                assert answer.status_code == 403, where
                assert answer.headers["content-type"].startswith("text/html"), where
            elif answer.is_redirect:
                assert address == "/", where  # the start page leads to the inbox
            elif missing:
                assert answer.status_code == 404, where  # no row has that id yet
            else:
                assert answer.status_code == 200, where
                assert answer.headers["content-type"].startswith(("text/html", "text/csv")), where
