"""The world ``bench.notifier`` measures in: the sandbox Telegram as its own process, a fresh
PostgreSQL schema with campaigns, leads, accounts and panel users, and the notifier started in
this process on the in-memory bus, with its operators linked through ``/start CODE``."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from argon2 import PasswordHasher, profiles
from cryptography.fernet import Fernet
from sqlalchemy import text

from bench.notifier_view import BANNED, LIMITED
from core.bus.memory import InMemoryBus
from core.db import Database
from core.db.migrate import upgrade
from core.db.models import Account, Campaign, Lead, User
from core.outbox import OutboxRelay
from core.platform import Platform
from core.security import SecretBox
from core.settings import Settings
from core.telegram_link_codes import new_code
from notifier.bootstrap import RunningNotifier, start_notifier

CAMPAIGNS = ("web-leads", "design-leads", "mobile-leads")
OPERATOR_BASE = 900_001  # sandbox user ids of the operators
FIRST_NAMES = ("Olga", "Ivan", "Maria", "Pavel", "Anna", "Dmitry", "Elena", "Sergey", "Irina")
LEAD_TEXTS = (
    "Looking for a developer to build an online shop <fast> & cheap",
    "Нужен разработчик сайта, бюджет 100k ₽ — пишите в личку 🙏",
    'Who can make a landing page for our café? "urgent"',
    "Ищу дизайнера для мобильного приложения, сроки горят",
)


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for(check: Callable[[], Awaitable[object]], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if await check():
                return
        except (aiohttp.ClientError, OSError):
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError(f"timed out after {seconds:.0f} s waiting for {what}")


def process_cpu(pid: int) -> float:
    """CPU seconds of one process so far (user + system, from /proc; 0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SandboxProcess:
    """``python -m coolthing run sandbox`` on a free port: its CPU is measured apart, and its
    work (limits, HTTP, HTML parsing) does not run on the notifier's event loop."""

    def __init__(self, logs: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "COOLTHING_ENV": "test",
            "COOLTHING_SANDBOX_PORT": str(self.port),
            "COOLTHING_LOG_LEVEL": "WARNING",
            "COOLTHING_SECRET_KEY": Fernet.generate_key().decode(),
        }
        self.log_path = logs / "sandbox.log"
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "coolthing", "run", "sandbox"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def cpu(self) -> float:
        return process_cpu(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class SandboxApi:
    """The sandbox's test endpoints, for one HTTP session."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http

    async def call(self, path: str, body: object = None) -> dict[str, Any]:
        method = "GET" if body is None else "POST"
        async with self.http.request(method, path, json=body) as response:
            payload: dict[str, Any] = await response.json()
        if not payload.get("ok"):
            raise RuntimeError(f"sandbox refused {method} {path}: {payload}")
        return payload

    async def register_bot(self, username: str) -> dict[str, Any]:
        return await self.call("/_sandbox/bots", {"username": username})

    async def write(self, bot_id: int, user_id: int, name: str, said: str) -> None:
        body = {"user_id": user_id, "first_name": name, "text": said}
        await self.call(f"/_sandbox/bots/{bot_id}/messages", body)

    async def chat(self, bot_id: int, chat_id: int) -> list[dict[str, Any]]:
        """The bot's own messages in a chat, as they are now (edits included)."""
        path = f"/_sandbox/bots/{bot_id}/chats/{chat_id}/messages?limit=1000"
        messages = (await self.call(path))["messages"]
        return [m for m in messages if m["from"]["id"] == bot_id]

    async def bot_info(self, bot_id: int) -> dict[str, Any]:
        return await self.call(f"/_sandbox/bots/{bot_id}")


async def fresh_schema(db: Database) -> None:
    """Empty public schema, then every migration: what each run starts from."""
    async with db.engine.begin() as connection:
        await connection.execute(text("drop schema public cascade"))
        await connection.execute(text("create schema public"))
    await upgrade(db)


@dataclass(frozen=True)
class Seeded:
    campaigns: dict[str, int]  # name → id
    leads: list[tuple[int, int, int]]  # (lead id, campaign id, telegram user id)
    accounts: dict[str, int]  # name → id
    owner_id: int  # the panel user who sends the API alerts


async def seed(db: Database, lead_count: int) -> Seeded:
    """Real rows, so the alerts name real people, campaigns and accounts."""
    now = datetime.now(UTC)
    async with db.transaction() as session:
        campaigns = [Campaign(name=name) for name in CAMPAIGNS]
        accounts = [
            Account(
                name=name,
                role="manager",
                session_secret="unused",  # noqa: S106 - no worker ever logs in with it
                peer_flood_until=now + timedelta(hours=24) if name in LIMITED else None,
            )
            for name in (*BANNED, *LIMITED)
        ]
        hashed = PasswordHasher.from_parameters(profiles.CHEAPEST).hash("bench notifier owner")
        owner = User(login="bench-ops", password_hash=hashed, role="owner")
        session.add_all([*campaigns, *accounts, owner])
        await session.flush()
        leads = [_lead(i, campaigns[i % len(campaigns)].id, now) for i in range(lead_count)]
        session.add_all(leads)
        await session.flush()
        return Seeded(
            {c.name: c.id for c in campaigns},
            [(lead.id, lead.campaign_id, lead.telegram_user_id) for lead in leads],
            {a.name: a.id for a in accounts},
            owner.id,
        )


def _lead(i: int, campaign_id: int, now: datetime) -> Lead:
    first = FIRST_NAMES[i % len(FIRST_NAMES)]
    return Lead(
        campaign_id=campaign_id,
        telegram_user_id=5_000_000 + i,
        username=f"lead{i}" if i % 3 else None,
        profile={"first_name": first, "last_name": f"L{i}"},
        chat_id=-1_000_000_000_001 - i % 4,
        chat_ref=f"@jobs{i % 4}",
        message_id=100 + i,
        text=LEAD_TEXTS[i % len(LEAD_TEXTS)],
        link=f"https://t.me/jobs{i % 4}/{100 + i}",
        keywords=["developer"],
        first_seen_at=now,
        last_seen_at=now,
    )


@dataclass
class Notifier:
    platform: Platform
    running: RunningNotifier
    relay: asyncio.Task[None]
    bot_id: int

    async def stop(self) -> None:
        await self.running.stop()
        self.relay.cancel()
        await asyncio.gather(self.relay, return_exceptions=True)
        await self.platform.bus.close()


async def start(db: Database, sandbox: SandboxApi, url: str) -> Notifier:
    """The notifier as ``coolthing run notifier`` wires it, on the in-memory bus."""
    bot = await sandbox.register_bot("coolthing_bench_bot")
    settings = Settings(
        env="test",
        database_url=db.url,
        bus_url="memory://bench-notifier",
        sandbox_url=url,
        notifier_bot_token=bot["token"],
        notifier_api_url=url,
        panel_url="http://panel.example",
    )
    bus = InMemoryBus("memory://bench-notifier")
    await bus.start()
    box = SecretBox(Fernet.generate_key())
    relay = OutboxRelay(db, bus)
    relaying = asyncio.create_task(relay.run(), name="bench-outbox-relay")
    platform = Platform(settings, db, bus, box, relay)
    running = await start_notifier(platform)
    return Notifier(platform, running, relaying, int(bot["id"]))


async def link_operators(notifier: Notifier, sandbox: SandboxApi, count: int) -> list[int]:
    """``count`` panel operators, each linked by ``/start CODE`` from their own Telegram chat;
    returns their chats (the sandbox user ids)."""
    db, box = notifier.platform.db, notifier.platform.box
    hashed = PasswordHasher.from_parameters(profiles.CHEAPEST).hash("bench operator")
    chats = []
    for n in range(count):
        async with db.transaction() as session:
            user = User(login=f"bench-operator-{n}", password_hash=hashed, role="operator")
            session.add(user)
            await session.flush()
            user_id = user.id
        code, _ = new_code(box, user_id)
        chat = OPERATOR_BASE + n
        await sandbox.write(notifier.bot_id, chat, f"Operator{n}", f"/start {code}")
        chats.append(chat)

    async def linked() -> bool:
        for chat in chats:
            said = await sandbox.chat(notifier.bot_id, chat)
            if not any("Linked" in m["text"] for m in said):
                return False
        return True

    await wait_for(linked, "the bot to link every operator", 30)
    return chats
