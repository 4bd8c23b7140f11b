"""The notifier in a whole product in one process, as `coolthing demo` runs it but on the real
PostgreSQL: sandbox Telegram (Bot API over HTTP), parser, manager, account workers and the
notifier with the real aiogram, on the in-memory bus; an operator in the sandbox linked to a
panel user. Tests drive it through the sandbox as a person would: write in a chat, read the
operator's chat with the bot, press its buttons, reply to its messages.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from argon2 import PasswordHasher, profiles

from admin.workspace.apply import apply_workspace, read_workspace
from bots.bootstrap import build_worker
from core.bus.memory import InMemoryBus
from core.db import Database
from core.db.models import User
from core.events import Event, Payload
from core.outbox import OutboxRelay
from core.platform import Platform
from core.security import SecretBox
from core.settings import Settings
from core.telegram_link_codes import new_code
from manager.bootstrap import RunningManager, start_manager
from notifier.bootstrap import RunningNotifier, start_notifier
from notifier.rate_limits import Limits
from parser.bootstrap import start_parser
from sandbox.bootstrap import RunningSandbox
from tests.conftest import eventually

T = TypeVar("T")
CHAT = "jobs"
OPERATOR = 777_001  # the sandbox user who is the operator in Telegram

FAST = """\
      quiet_hours: null
      min_gap_seconds: 0
      max_gap_seconds: 0
      warmup_days: 0
      new_dms_per_day: 10000
      messages_per_minute: 1000"""


def notifier_workspace(sessions: list[str], *, approval: bool, below: str = "maybe") -> str:
    return f"""\
accounts:
  - {{name: parser-1, role: parser, session: "{sessions[0]}"}}
  - {{name: manager-1, role: manager, session: "{sessions[1]}"}}
keyword_sets:
  - {{name: web-dev, keywords: [разработчик, developer]}}
campaigns:
  - name: web-leads
    keyword_sets: [web-dev]
    chats: ["@{CHAT}"]
    parser_accounts: [parser-1]
    manager_accounts: [manager-1]
    outreach:
      offer: "We build web apps in four weeks."
      approval: {str(approval).lower()}
{FAST}
    intent: {{below: {below}}}
"""


@dataclass
class NotifierWorld:
    platform: Platform
    sandbox: RunningSandbox
    http: aiohttp.ClientSession
    bot_id: int
    tmp: Path
    notifier: RunningNotifier | None = None
    manager: RunningManager | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def call(self, path: str, body: object = None, *, ok: bool = True) -> Any:
        method = "GET" if body is None else "POST"
        async with self.http.request(method, path, json=body) as response:
            payload = await response.json()
        if ok:
            assert payload["ok"], payload
        return payload

    # ---- the product ---------------------------------------------------------------------

    async def boot(
        self, *, approval: bool = True, limits: Limits | None = None, below: str = "maybe"
    ) -> None:
        """The whole product; ``below``: what the campaign does with an unsure lead."""
        sessions = []
        for name in ("Parser", "Manager"):
            created = await self.call("/_sandbox/accounts", {"first_name": name})
            sessions.append(created["session"])
        await self.call("/_sandbox/chats", {"ref": CHAT, "title": "Jobs"})
        path = self.tmp / "workspace.yaml"
        path.write_text(notifier_workspace(sessions, approval=approval, below=below), "utf-8")
        spec, located = read_workspace(path)
        async with self.platform.db.transaction() as session:
            await apply_workspace(
                session=session, spec=spec, located=located, box=self.platform.box
            )
        await start_parser(self.platform)
        self.manager = await start_manager(self.platform)
        for account_id in (1, 2):
            worker = build_worker(self.platform, account_id, join_interval=0.05)
            self.tasks.append(asyncio.create_task(worker.run()))
        await self.start_notifier(limits)

        async def joined() -> bool:
            chats = (await self.call("/_sandbox/chats"))["chats"]
            return any(c["members"] for c in chats if c["ref"] == CHAT)

        await eventually(joined, what="the parser account to join the chat")

    async def start_notifier(self, limits: Limits | None = None) -> None:
        """The notifier alone (tests that publish its events themselves)."""
        self.notifier = await start_notifier(self.platform, limits=limits)

    async def stop(self) -> None:
        if self.notifier is not None:
            await self.notifier.stop()
        if self.manager is not None:
            await self.manager.stop()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def publish(self, payload: Payload) -> None:
        await self.platform.bus.publish(Event.of(payload))

    # ---- people ----------------------------------------------------------------------------

    async def add_user(self, login: str, role: str) -> int:
        hashed = PasswordHasher.from_parameters(profiles.CHEAPEST).hash("pw-" + login)
        async with self.platform.db.transaction() as session:
            user = User(login=login, password_hash=hashed, role=role)
            session.add(user)
            await session.flush()
            return user.id

    async def link(self, login: str, role: str, telegram_user_id: int, name: str) -> int:
        """A panel user, linked the way a person does it: /start CODE to the bot."""
        user_id = await self.add_user(login, role)
        code, _ = new_code(self.platform.box, user_id)
        before = len(await self.chat(telegram_user_id))
        await self.write(telegram_user_id, f"/start {code}", name=name)

        async def answered() -> list[dict[str, Any]] | None:
            messages = await self.chat(telegram_user_id)
            return messages[before + 1 :] or None

        said = await eventually(answered, what=f"the bot to answer {login}'s /start")
        assert "Linked" in said[-1]["text"], said
        return user_id

    async def write(
        self,
        telegram_user_id: int,
        text: str,
        *,
        name: str = "Olga",
        reply_to: int | None = None,
        chat: int | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"user_id": telegram_user_id, "first_name": name, "text": text}
        if reply_to is not None:
            body["reply_to_message_id"] = reply_to
        if chat is not None:
            body["chat"] = chat
        return dict(await self.call(f"/_sandbox/bots/{self.bot_id}/messages", body))

    async def chat(self, chat_id: int) -> list[dict[str, Any]]:
        """Everything in one of the bot's chats, oldest first."""
        path = f"/_sandbox/bots/{self.bot_id}/chats/{chat_id}/messages?limit=1000"
        payload = await self.call(path, ok=False)
        return list(payload.get("messages", [])) if payload["ok"] else []

    async def bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        return [m for m in await self.chat(chat_id) if m["from"]["id"] == self.bot_id]

    async def message_with(
        self, chat_id: int, words: str, *, buttons: bool = False, seconds: float = 30
    ) -> dict[str, Any]:
        """The newest message of the bot in the chat saying ``words`` (and, with ``buttons``,
        still carrying a keyboard), waiting for it."""

        async def found() -> dict[str, Any] | None:
            for message in reversed(await self.bot_messages(chat_id)):
                if words in message["text"] and (message.get("reply_markup") or not buttons):
                    return dict(message)
            return None

        return await eventually(found, seconds=seconds, what=f"a message saying {words!r}")

    async def press(
        self, telegram_user_id: int, message: dict[str, Any], label: str, chat: int | None = None
    ) -> dict[str, Any]:
        """Press the button labelled ``label`` and wait for the bot's answer to the press."""
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        data = next(b["callback_data"] for row in rows for b in row if b["text"] == label)
        body: dict[str, Any] = {
            "user_id": telegram_user_id,
            "message_id": message["message_id"],
            "data": data,
        }
        if chat is not None:
            body["chat"] = chat
        pressed = await self.call(f"/_sandbox/bots/{self.bot_id}/callbacks", body)
        path = f"/_sandbox/bots/{self.bot_id}/callbacks/{pressed['callback_query_id']}"

        async def answered() -> dict[str, Any] | None:
            record = await self.call(path)
            return dict(record) if record["answered"] else None

        return await eventually(answered, what=f"the bot to answer the press on {label!r}")

    async def post(self, user_id: int, text: str, name: str = "Lead") -> None:
        body = {"chat": f"@{CHAT}", "text": text, "user": {"user_id": user_id, "first_name": name}}
        await self.call("/_sandbox/post", body)

    async def dms_to(self, user_id: int) -> list[dict[str, Any]]:
        listed = await self.call(f"/_sandbox/dms?user={user_id}")
        return [m for m in listed["messages"] if m["to"]["user_id"] == user_id]


@contextlib.asynccontextmanager
async def notifier_world(
    db: Database, box: SecretBox, sandbox: RunningSandbox, tmp: Path, **overrides: Any
) -> AsyncIterator[NotifierWorld]:
    async with aiohttp.ClientSession(base_url=sandbox.url) as http:
        bot = await _register_bot(http)
        # The tests script what a lead writes: a simulated user's own answer (700_201 opts out,
        # 700_301 asks the price, 1-4 s after a DM) would race their counts of DMs.
        async with http.put("/_sandbox/responder", json={"enabled": False}) as silenced:
            assert (await silenced.json())["ok"]
        settings = Settings(
            env="test",
            database_url=db.url,
            bus_url="memory://notifier",
            sandbox_url=sandbox.url,
            notifier_bot_token=bot["token"],
            notifier_api_url=sandbox.url,
            panel_url="http://panel.example",
            manager_pacing=False,
            **overrides,
        )
        bus = InMemoryBus(f"memory://notifier-{id(http)}")
        await bus.start()
        relay = OutboxRelay(db, bus)
        relaying = asyncio.create_task(relay.run())
        world = NotifierWorld(
            Platform(settings, db, bus, box, relay), sandbox, http, bot["id"], tmp
        )
        try:
            yield world
        finally:
            await world.stop()
            relaying.cancel()
            await asyncio.gather(relaying, return_exceptions=True)
            await bus.close()


async def _register_bot(http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.post("/_sandbox/bots", json={"username": "coolthing_bot"}) as response:
        payload = await response.json()
    assert payload["ok"], payload
    return dict(payload)
