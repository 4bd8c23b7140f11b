"""Integration-tier fixtures and markers, and ``World``: the manager's parts on a real database."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from sqlalchemy import select, update

from admin.workspace.apply import apply_workspace, read_workspace
from bots.sandbox_client import SandboxAccountClient
from bots.worker import AccountWorker
from core.access import Role
from core.bus import Bus
from core.bus.factory import make_bus
from core.bus.memory import InMemoryBus
from core.db import Database
from core.db.models import Account, Campaign, Conversation, ConversationMessage, OutboxMessage
from core.events import Event, LeadFound, MessageIncoming, Profile
from core.operator_commands import OPERATOR_COMMAND
from core.outbox import OutboxRelay
from core.security import SecretBox
from core.telegram import AccountClient
from core.topology import MANAGER_OPERATOR
from manager.conversations import Conversations
from manager.delivery import Delivery
from manager.dispatcher import Dispatcher
from manager.handlers import ManagerHandlers
from manager.operator import OperatorDesk
from manager.writers import TemplateWriter
from parser.assignments import rebalance
from parser.bootstrap import start_parser
from parser.leads import record_hits
from parser.matcher import Hit
from parser.service import ParserService
from sandbox.bootstrap import RunningSandbox, serve
from tests.conftest import PASSWORD, add_people, admin_app, bearer, empty_postgres
from tests.integration.notifier_world import NotifierWorld, notifier_world
from tests.integration.scene_world import SceneWorld, scene_world


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes tens of seconds (restarts a service)")


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    """A fresh sandbox Telegram on a free loopback port (a test module may override it)."""
    running = await serve("127.0.0.1", 0)
    yield running
    await running.stop()


# ---- the manager on a real database, built piece by piece ------------------------------------

FAST = (
    "{quiet_hours: null, min_gap_seconds: 0, max_gap_seconds: 0, warmup_days: 0, "
    "new_dms_per_day: 1000, messages_per_minute: 1000, max_turns: 3"
)


def workspace(extra: str = "") -> str:
    return f"""\
accounts:
  - {{name: parser-1, role: parser, session: s1}}
  - {{name: manager-1, role: manager, session: s2}}
  - {{name: manager-2, role: manager, session: s3}}
keyword_sets:
  - {{name: web-dev, keywords: [разработчик]}}
campaigns:
  - name: web
    keyword_sets: [web-dev]
    chats: ["@jobs"]
    parser_accounts: [parser-1]
    manager_accounts: [manager-1, manager-2]
    outreach: {FAST}, offer: "Сайты за месяц."{extra}}}
  - name: other
    keyword_sets: [web-dev]
    chats: ["@jobs"]
    parser_accounts: [parser-1]
    manager_accounts: [manager-2]
    outreach: {FAST}}}
"""


class World:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.bus = InMemoryBus(f"memory://manager-{id(self)}")
        self.relay = OutboxRelay(db, self.bus)
        self.conversations = Conversations(db, self.relay, TemplateWriter())
        self.delivery = Delivery(db, self.conversations)
        self.dispatcher = Dispatcher(db, self.bus, self.relay)
        self.desk = OperatorDesk(db, wake=self.dispatcher.poke)
        self.next_message = 1

    async def serve_operator_commands(self) -> None:
        """What the manager's bootstrap does: answer operator commands from the bus."""
        await self.bus.start()
        handlers = ManagerHandlers(self.conversations, self.delivery, self.desk)
        await self.bus.serve(MANAGER_OPERATOR, [OPERATOR_COMMAND], handlers.on_operator_command)

    async def lead(self, user: int, campaign: int = 1, text: str = "Ищу разработчика") -> LeadFound:
        """What the parser does for a matching chat message: a lead row and its event."""
        self.next_message += 1
        message = MessageIncoming(
            account_id=1,
            chat_id=-100,
            chat_ref="@jobs",
            message_id=self.next_message,
            text=text,
            date=datetime.now(UTC),
            sender=Profile(user_id=user, first_name="Анна", username=f"user{user}"),
        )
        async with self.db.transaction() as session:
            found = await record_hits(
                session,
                message,
                [Hit(1, "web-dev", campaign, ("разработчик",))],
                correlation_id=None,
            )
        return found[0]

    async def reply(self, user: int, account: int, text: str) -> None:
        self.next_message += 1
        message = MessageIncoming(
            account_id=account,
            chat_id=user,
            is_private=True,
            message_id=self.next_message,
            text=text,
            date=datetime.now(UTC),
            sender=Profile(user_id=user, first_name="Анна"),
        )
        await self.conversations.on_reply(message)

    async def conversations_of(self, user: int) -> list[Conversation]:
        async with self.db.session() as session:
            query = select(Conversation).where(Conversation.telegram_user_id == user)
            return list(await session.scalars(query.order_by(Conversation.id)))

    async def outbound(self, user: int) -> list[ConversationMessage]:
        async with self.db.session() as session:
            ids = select(Conversation.id).where(Conversation.telegram_user_id == user)
            query = select(ConversationMessage).where(
                ConversationMessage.conversation_id.in_(ids),
                ConversationMessage.direction == "out",
            )
            return list(await session.scalars(query.order_by(ConversationMessage.id)))

    async def events(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        async with self.db.session() as session:
            rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            bodies = [(r.routing_key, json.loads(r.body)) for r in rows]
        return [(key, body["payload"]) for key, body in bodies if body["name"] == name]


# ---- the panel --------------------------------------------------------------------------------


@pytest.fixture
async def panel_world(database: Database, secret_box: SecretBox, tmp_path: Path) -> World:
    """The manager's parts on a workspace whose campaign holds every draft for approval, with
    one user per role (login = the role's name)."""
    path = tmp_path / "ws.yaml"
    path.write_text(workspace(", approval: true"), encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    await add_people(database)
    return World(database)


@pytest.fixture
async def browser(panel_world: World) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client of the panel, with the manager serving operator commands."""
    await panel_world.serve_operator_commands()
    app = admin_app(panel_world.db, panel_world.bus)
    app.exception_handlers.pop(Exception)  # a 500 fails the test loudly
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http
    await panel_world.bus.close()


async def sign_in(http: httpx.AsyncClient, login: str) -> None:
    """Sign in through the form and send the CSRF token on every change from then on."""
    answer = await http.post("/login", data={"login": login, "password": PASSWORD, "next": "/"})
    assert answer.status_code == 303, answer.text
    http.headers["X-CSRFToken"] = http.cookies["csrftoken"]


def first_id(html: str, attribute: str) -> int:
    """The id in the first ``attribute="…"`` of a page (``data-conversation``, ``data-lead``)."""
    found = re.search(rf'{attribute}="(\d+)"', html)
    assert found is not None, f"no {attribute} on the page"
    return int(found.group(1))


# ---- the panel, one client per role (override ``panel_bus`` in a module for a real broker) ----


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
    await apply_workspace_text(database, secret_box, tmp_path, workspace())
    tokens = await add_people(database)
    app = admin_app(database, panel_bus)
    app.exception_handlers.pop(Exception)  # a 500 fails the test loudly
    shown = Panel(database, panel_bus, httpx.ASGITransport(app=app), tokens)
    yield shown
    for http in shown.opened:
        await http.aclose()


# ---- a sandbox on its own loop in a thread (for synchronous tests: schemathesis) --------------


@contextmanager
def threaded_sandbox() -> Iterator[str]:
    """Serve a fresh sandbox on a free loopback port; yields its URL, stops it on exit."""
    loop = asyncio.new_event_loop()
    running = loop.run_until_complete(serve("127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, name="sandbox", daemon=True)
    thread.start()
    try:
        yield running.url
    finally:
        asyncio.run_coroutine_threadsafe(running.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


# ---- the notifier in a whole product (tests/integration/notifier_world.py) -------------------


@pytest.fixture
async def notifier_product(
    postgres_url: str, secret_box: SecretBox, sandbox: RunningSandbox, tmp_path: Path
) -> AsyncIterator[NotifierWorld]:
    """Sandbox, parser, manager, workers and the notifier (real aiogram) on PostgreSQL."""
    db = Database(postgres_url)
    await empty_postgres(db)
    async with notifier_world(db, secret_box, sandbox, tmp_path) as world:
        yield world
    await db.close()


# ---- scripts mode in one process (tests/integration/scene_world.py) --------------------------


@pytest.fixture
async def scenes(
    database: Database, secret_box: SecretBox, sandbox: RunningSandbox, tmp_path: Path
) -> AsyncIterator[SceneWorld]:
    """Sandbox, the scripts service and two scripts accounts' workers, on SQLite and PostgreSQL."""
    async with scene_world(database, secret_box, sandbox, tmp_path) as world:
        await world.boot()
        yield world


@pytest.fixture
async def scenes_with_parser(
    database: Database, secret_box: SecretBox, sandbox: RunningSandbox, tmp_path: Path
) -> AsyncIterator[SceneWorld]:
    """The scene world with the parser running and a campaign "followups" to hand members to."""
    async with scene_world(database, secret_box, sandbox, tmp_path) as world:
        await world.boot(campaign=True)
        await start_parser(world.platform)
        yield world


async def sandbox_api(sandbox: RunningSandbox, path: str, body: object = None) -> dict[str, Any]:
    """GET (no body) or POST the sandbox's own API; its answer, which must be ``ok``."""
    async with aiohttp.ClientSession() as http:
        method = "GET" if body is None else "POST"
        async with http.request(method, sandbox.url + path, json=body) as response:
            payload: dict[str, Any] = await response.json()
    assert payload["ok"], payload
    return payload


async def parser_worker(
    database: Database,
    box: SecretBox,
    sandbox: RunningSandbox,
    tmp_path: Path,
    bus: Bus,
    *,
    chat_batch_delay: float = 0.02,
) -> tuple[AccountWorker, int]:
    """A parser account (``parser-1``, id 1) listening in ``@jobs_chat`` for ``developer``, and
    its worker, not started; the account's Telegram user id."""
    await sandbox_api(sandbox, "/_sandbox/chats", {"ref": "jobs_chat", "title": "Jobs"})
    created = await sandbox_api(sandbox, "/_sandbox/accounts", {"first_name": "Parser"})
    path = tmp_path / "ws.yaml"
    path.write_text(
        f"""\
accounts: [{{name: parser-1, role: parser, session: "{created["session"]}"}}]
keyword_sets: [{{name: web, keywords: [developer]}}]
campaigns: [{{name: web, keyword_sets: [web], chats: ["@jobs_chat"], parser_accounts: [parser-1]}}]
""",
        encoding="utf-8",
    )
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=box)
        await rebalance(session)

    def client(account: Account) -> AccountClient:
        return SandboxAccountClient(sandbox.url, box.decrypt(account.session_secret))

    worker = AccountWorker(
        account_id=1,
        db=database,
        bus=bus,
        relay=OutboxRelay(database, bus),
        client_factory=client,
        join_interval=0,
        chat_batch_delay=chat_batch_delay,
    )
    return worker, int(str(created["user_id"]))


def jobs_chat_message(
    message_id: int, text: str, *, user: int = 7, bio: str | None = None
) -> Event:
    """A message in the workspace's @jobs_chat from Telegram user ``user`` (with ``bio``)."""
    return Event.of(
        MessageIncoming(
            account_id=1,
            chat_id=-100500,
            chat_ref="@jobs_chat",
            message_id=message_id,
            text=text,
            date=datetime.now(UTC),
            link=f"https://t.me/jobs_chat/{message_id}",
            sender=Profile(user_id=user, username=f"user{user}", first_name="Анна", bio=bio),
        )
    )


async def say_to_parser(
    service: ParserService, message_id: int, text: str, *, user: int = 7, bio: str | None = None
) -> None:
    """Hand the parser that message as its bus handler would."""
    event = jobs_chat_message(message_id, text, user=user, bio=bio)
    await service.handle_message(event, event.payload_as(MessageIncoming))


async def apply_workspace_text(
    db: Database,
    box: SecretBox,
    folder: Path,
    text: str,
    *,
    intent: dict[str, object] | None = None,
) -> None:
    """Apply a workspace file's ``text`` as `coolthing workspace apply` would; ``intent``, when
    given, becomes every campaign's intent policy in the same transaction."""
    path = folder / "ws.yaml"
    path.write_text(text, encoding="utf-8")
    spec, located = read_workspace(path)
    async with db.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=box)
        if intent is not None:
            await session.execute(update(Campaign).values(intent=intent))
