"""The world ``bench.chaos`` (and ``tests/e2e/test_chaos.py``) runs in: the sandbox Telegram as its
own process; parser, manager and watchdog as ``coolthing run …`` processes kept running by a
supervisor (Compose's ``restart: unless-stopped``); one account worker per account started by the
watchdog's local runtime; all on a private PostgreSQL and RabbitMQ (``bench.private_services``)
that the faults may restart.

Leads come the real way: a member posts in the campaign's chat, the parser account's worker
reads it, the parser records the lead, the manager drafts and queues ``command.send``, a manager
account's worker sends it, and the sandbox records the DM. DMs are counted at the sandbox, per
lead, from the manager accounts' own DM logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from bench.chaos_procs import SUPERVISED, CpuMeter, Supervisor, descendants
from bench.private_services import PrivateServices, free_port
from coolthing import workspace_cmd
from core.db import Database
from core.db.migrate import upgrade
from core.db.models import Account
from core.db.watchdog_models import WorkerHeartbeat
from core.settings import Settings

CHAT = "chaos_jobs"
# 1,000 strangers written to in a few minutes is far past Telegram's PeerFlood threshold (the
# sandbox's too): this run is about crashes, so the sandbox's account limits are lifted.
UNLIMITED = {
    "new_dms_per_hour": 1e6,
    "new_dm_burst": 1e4,
    "messages_per_minute": 1e6,
    "message_burst": 1e4,
}
# The watchdog as configured for the run. The run kills workers far more often than any real
# failure does; the crash-loop protection (backoff doubling from 10 s, quarantine after 5 crashes)
# has tests of its own, so here a crash is retried within a second and never quarantined.
WATCHDOG_ENV = {
    "COOLTHING_WATCHDOG_RUNTIME": "local",
    "COOLTHING_WATCHDOG_RECONCILE_INTERVAL": "2",
    "COOLTHING_WATCHDOG_BACKOFF_BASE": "1",
    "COOLTHING_WATCHDOG_BACKOFF_CAP": "2",
    "COOLTHING_WATCHDOG_QUARANTINE_CRASHES": "1000",
    "COOLTHING_WATCHDOG_HEARTBEAT_INTERVAL": "1",
    "COOLTHING_WATCHDOG_HEARTBEAT_TIMEOUT": "30",
    "COOLTHING_WATCHDOG_STOP_GRACE": "10",
}
FAST = """\
      quiet_hours: null
      min_gap_seconds: 0
      max_gap_seconds: 0
      warmup_days: 0
      new_dms_per_day: 10000
      messages_per_minute: 1000"""


def workspace(parser_session: str, manager_sessions: list[str]) -> str:
    managers = [f"manager-{n}" for n in range(1, len(manager_sessions) + 1)]
    lines = [f'  - {{name: parser-1, role: parser, session: "{parser_session}"}}']
    lines += [
        f'  - {{name: {name}, role: manager, session: "{session}"}}'
        for name, session in zip(managers, manager_sessions, strict=True)
    ]
    accounts = "\n".join(lines)
    return f"""\
accounts:
{accounts}
keyword_sets:
  - {{name: web-dev, keywords: [разработчик, developer]}}
campaigns:
  - name: web
    keyword_sets: [web-dev]
    chats: ["@{CHAT}"]
    parser_accounts: [parser-1]
    manager_accounts: [{", ".join(managers)}]
    outreach:
      offer: "We build web apps in four weeks."
{FAST}
"""


@dataclass
class DmLog:
    """Every DM the manager accounts sent, per recipient, with the moment it was seen."""

    senders: list[int]  # the manager accounts' Telegram user ids
    cursors: dict[int, int] = field(default_factory=dict)
    received: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    seen_at: list[float] = field(default_factory=list)  # every DM's moment, in order

    async def poll(self, http: aiohttp.ClientSession) -> None:
        for sender in self.senders:
            since = self.cursors.get(sender, 0)
            async with http.get(f"/_sandbox/dms?user={sender}&since={since}&limit=1000") as r:
                listed = await r.json()
            now = time.monotonic()
            self.cursors[sender] = int(listed["cursor"])
            for message in listed["messages"]:
                if message["from"]["user_id"] == sender:
                    self.received[int(message["to"]["user_id"])].append(now)
                    self.seen_at.append(now)

    def first_after(self, moment: float) -> float | None:
        return next((t for t in self.seen_at if t > moment), None)


class World:
    """The running world: ``async with World.open(services, logs) as world``."""

    def __init__(self, services: PrivateServices, logs: Path, managers: int) -> None:
        self.services = services
        self.logs = logs
        self.managers = managers
        self.sandbox_port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("COOLTHING_")}
        self.env |= {
            "COOLTHING_ENV": "test",
            "COOLTHING_DATABASE_URL": services.postgres.url,
            "COOLTHING_BUS_URL": services.rabbit.url,
            "COOLTHING_SECRET_KEY": Fernet.generate_key().decode(),
            "COOLTHING_SANDBOX_PORT": str(self.sandbox_port),
            "COOLTHING_SANDBOX_URL": self.sandbox_url,
            "COOLTHING_TELEGRAM_BACKEND": "sandbox",
            "COOLTHING_LLM_BASE_URL": f"{self.sandbox_url}/v1",
            "COOLTHING_LLM_API_KEY": "sandbox-key",
            "COOLTHING_JOIN_INTERVAL": "0",
            "COOLTHING_METRICS_PORT": "0",
            "COOLTHING_LOG_LEVEL": "INFO",
            **WATCHDOG_ENV,
        }
        self.db = Database(services.postgres.url)
        self.sandbox: subprocess.Popen[bytes] | None = None
        self.http: aiohttp.ClientSession | None = None
        self.supervisor = Supervisor(self.env, logs)
        self.account_ids: dict[str, int] = {}  # account name → id
        self.user_ids: dict[str, int] = {}  # account name → sandbox user id
        self.dms = DmLog([])
        self.cpu = CpuMeter()
        self.killed: set[int] = set()  # pids a fault SIGKILLed
        self.worker_exits: list[int] = []  # pids under the watchdog that ended by themselves

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls, services: PrivateServices, logs: Path, managers: int = 2
    ) -> AsyncIterator[World]:
        world = cls(services, logs, managers)
        try:
            await world._boot()
            with world.supervisor:
                await world._wait_ready()
                yield world
        finally:
            await world._close()

    async def call(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        assert self.http is not None  # opened in _boot
        async with self.http.request(method, path, json=body) as response:
            payload: dict[str, Any] = await response.json()
        if not payload.get("ok"):
            raise RuntimeError(f"sandbox refused {method} {path}: {payload}")
        return payload

    async def _boot(self) -> None:
        # This process's own probes (is the queue consumed?) fail during a broker restart on
        # purpose: the client library's tracebacks for that are noise here.
        for name in ("aiormq", "aio_pika"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self.sandbox = spawn_sandbox(self.env, self.logs)
        self.http = aiohttp.ClientSession(base_url=self.sandbox_url)
        await upgrade(self.db)
        await until(lambda: self.call("GET", "/_sandbox/health"), "the sandbox", 30)
        await self.call("PUT", "/_sandbox/responder", {"enabled": False})
        await self.call("PATCH", "/_sandbox/limits", {"account": UNLIMITED})
        await self.call("POST", "/_sandbox/chats", {"ref": CHAT, "title": CHAT})
        names = ["parser-1", *(f"manager-{n}" for n in range(1, self.managers + 1))]
        made = [await self.call("POST", "/_sandbox/accounts", {"first_name": n}) for n in names]
        self.user_ids = {n: int(a["user_id"]) for n, a in zip(names, made, strict=True)}
        sessions = [str(a["session"]) for a in made]
        (self.logs / "ws.yaml").write_text(workspace(sessions[0], sessions[1:]), "utf-8")
        settings = Settings(
            database_url=self.env["COOLTHING_DATABASE_URL"],
            secret_key=self.env["COOLTHING_SECRET_KEY"],
        )
        await workspace_cmd.apply_file(settings, self.logs / "ws.yaml")
        async with self.db.session() as session:
            self.account_ids = dict((await session.execute(select(Account.name, Account.id))).all())
        self.dms = DmLog([self.user_ids[n] for n in names[1:]])

    async def _wait_ready(self) -> None:
        async def parser_listens() -> bool:
            listed = (await self.call("GET", "/_sandbox/chats"))["chats"]
            return any(c["members"] for c in listed if c["ref"].lstrip("@") == CHAT)

        await until(parser_listens, "the parser account to join the chat", 90)
        await until(self.manager_consumes, "the manager to consume its leads", 60)
        await until(self.all_workers_beat, "a heartbeat from every account's worker", 60)

    async def manager_consumes(self) -> bool:
        return await consuming(self.services.rabbit.url, "manager.leads")

    async def beats(self) -> dict[int, int]:
        """account id → pid in its heartbeat row."""
        async with self.db.session() as session:
            rows = await session.execute(select(WorkerHeartbeat.account_id, WorkerHeartbeat.pid))
            return {int(a): int(pid) for a, pid in rows}

    async def all_workers_beat(self) -> bool:
        beats = await self.beats()
        return set(self.account_ids.values()) <= set(beats)

    async def health_problems(self) -> list[str]:
        """What is not back by itself: a service not running, a worker missing or not beating
        from the process the watchdog runs, a queue nobody consumes. Empty when all is well."""
        pids = self.supervisor.pids()
        problems = [f"{name} not running" for name in SUPERVISED if name not in pids]
        beats = await self.beats()
        await asyncio.sleep(2 * float(WATCHDOG_ENV["COOLTHING_WATCHDOG_HEARTBEAT_INTERVAL"]))
        again = await self.beats()
        running = self.workers()
        for name, account in self.account_ids.items():
            if again.get(account) not in running:
                problems.append(f"{name}'s heartbeat is not from a worker the watchdog runs")
            elif beats.get(account) != again.get(account):
                problems.append(f"{name}'s worker changed while checked (restarting?)")
        queues = ["parser.messages", "manager.leads", "manager.results"]
        queues += [f"bots.account.{a}" for a in self.account_ids.values()]
        for queue in queues:
            if not await consuming(self.services.rabbit.url, queue):
                problems.append(f"nobody consumes {queue}")
        return problems

    async def dead_letters(self) -> dict[str, int]:
        """Dead-letter queues holding messages (work given up on), with their counts."""
        listed = await self.services.rabbit.ctl(
            "list_queues", "-p", "coolthing", "name", "messages"
        )
        found: dict[str, int] = {}
        for line in listed.splitlines():
            name, _, count = line.rpartition("\t")
            if name.endswith(".dlq") and count.isdigit() and int(count):
                found[name] = int(count)
        return found

    async def trace(self, user_id: int) -> dict[str, list[tuple[object, ...]]]:
        """Where a lead's way stopped: its lead row, conversation, messages, sent keys and the
        outbox rows that name the person (for a failure's message)."""
        queries = {
            "lead": "select id from leads where telegram_user_id = :u",
            "conversation": "select c.id, c.status, c.account_id from conversations c"
            " join leads l on l.id = c.lead_id where l.telegram_user_id = :u",
            "messages": "select m.direction, m.slot, m.status from conversation_messages m"
            " join conversations c on c.id = m.conversation_id join leads l on l.id = c.lead_id"
            " where l.telegram_user_id = :u",
            "sent_keys": "select idempotency_key, status from sent_keys where peer_user_id = :u",
            "outbox": "select routing_key, published_at is not null, dead_at is not null"
            " from outbox where body like '%' || cast(:u as text) || '%'",
        }
        found: dict[str, list[tuple[object, ...]]] = {}
        async with self.db.session() as session:
            for name, sql in queries.items():
                rows = await session.execute(text(sql), {"u": user_id})
                found[name] = [tuple(row) for row in rows]
        return found

    def workers(self) -> set[int]:
        """Processes under the watchdog (its workers, its fork server)."""
        watchdog = self.supervisor.pids().get("watchdog")
        return descendants(watchdog) if watchdog else set()

    async def post_lead(self, user_id: int) -> None:
        body = {
            "chat": f"@{CHAT}",
            # a buyer's request: the parser's second stage keeps vaguer ones as "maybe" leads
            "text": f"Ищу разработчика на проект номер {user_id}, бюджет есть",
            "user": {"user_id": user_id, "first_name": "Lead"},
        }
        await self.call("POST", "/_sandbox/post", body)

    async def observe(self) -> None:
        """Poll the DMs, our processes' CPU and the processes under the watchdog (one that ends
        without a fault's SIGKILL exited by itself) until cancelled."""
        assert self.http is not None  # opened in _boot
        workers = self.workers()
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                await self.dms.poll(self.http)
            now = self.workers()
            self.worker_exits += sorted(workers - now - self.killed)
            workers = now
            self.cpu.sample([*self.supervisor.pids().values(), *now])
            await asyncio.sleep(0.2)

    async def _close(self) -> None:
        if self.http is not None:
            await self.http.close()
        if self.sandbox is not None and self.sandbox.poll() is None:
            self.sandbox.send_signal(signal.SIGTERM)
            try:
                self.sandbox.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.sandbox.kill()
                self.sandbox.wait(timeout=5)
        await self.db.close()


def spawn_sandbox(env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    with (logs / "sandbox.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "coolthing", "run", "sandbox"],
            env=env | {"COOLTHING_LOG_LEVEL": "WARNING"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def consuming(amqp_url: str, queue: str) -> bool:
    """The queue exists and has a consumer (False while the broker is away)."""
    try:
        connection = await aio_pika.connect(amqp_url, timeout=5)
    except (OSError, aio_pika.exceptions.AMQPError, TimeoutError):
        return False
    async with connection:
        channel = await connection.channel()
        try:
            declared = await channel.declare_queue(queue, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return False
        return bool(declared.declaration_result.consumer_count)


async def until(check: Callable[[], Awaitable[object]], what: str, seconds: float) -> None:
    """Poll ``check`` (an async callable) until it returns something truthy."""
    deadline = time.monotonic() + seconds
    last: object = None
    while time.monotonic() < deadline:
        try:
            if last := await check():
                return
        except (aiohttp.ClientError, OSError, RuntimeError, SQLAlchemyError) as exc:
            last = exc
        await asyncio.sleep(0.2)
    raise TimeoutError(f"timed out after {seconds:.0f} s waiting for {what}; last: {last!r}")
