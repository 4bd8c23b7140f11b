"""The world ``bench.scripts`` measures in, all in this one process as ``coolthing demo`` runs it:
the sandbox Telegram (``sandbox.bootstrap.serve``), the scripts service (``start_scripts``) and
one account worker per scripts account (``bots.bootstrap.build_worker``), on PostgreSQL (a fresh
schema, every migration) and RabbitMQ (the benchmarks' virtual host), with the outbox relay.

Each phase (the warm-up, the runs at once, the runs one after another) plays in own chats of its
own, so no phase can mistake a line of another for its own (a send reconciled after a redelivery
looks for its text in the chat). The ``n``-th chat of every phase is played by the same three
consecutive accounts of ``--accounts`` (so an account plays in runs of several chats at once),
made members of it before the workers start: joins are not what is measured.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aio_pika
import aiohttp
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from admin.workspace.apply import apply_workspace, parse_workspace
from bench.notifier_setup import fresh_schema, log, wait_for
from bench.pipeline import AMQP_URL
from bots.bootstrap import build_worker
from core.access import Actor, Role
from core.bus import Bus
from core.bus.factory import make_bus
from core.db import Database
from core.db.models import Account, Chat
from core.db.scene_models import Scenario, ScenarioVersion, SceneMember
from core.events import Event, RunEnded
from core.outbox import OutboxRelay
from core.platform import Platform
from core.scene_commands import SceneCommand, SceneResult, send_scene_command
from core.security import SecretBox
from core.settings import Settings
from core.topology import SERVICE_QUEUES, account_queue
from sandbox.bootstrap import RunningSandbox, serve
from scripts.bootstrap import RunningScripts, start_scripts

ROLES = ("host", "expert", "guest")
ACTOR = Actor(user_id=1, login="bench", role=Role.operator, channel="panel")
# Six lines, three roles, pauses and typing (one line with its own typing time, one quoting an
# earlier line); no listen: nobody answers in these chats. About 140 s unscaled.
SCENE = """\
title: Bench Q&A
roles: host, expert, guest

host [id hello]: {Hi|Hello|Hey} everyone, welcome to the {club|community|group}!
wait 20-40s
guest: Hi! Glad to be here. What is this place about?
wait 10-30s
expert [typing 4s]: We talk about {building|running} small online shops.
guest [reply hello]: {Nice|Cool}, anything for beginners?
wait 15-45s
host: I pinned a starter guide, have a look.
wait 10-20s
expert: Ask away, we answer every question.
"""
SCENE_LINES = 6
# The sandbox's defaults are Telegram-like (30 messages a minute per account, 20 per group):
# the load generator is not what is measured, so they are lifted.
UNLIMITED = {
    "messages_per_minute": 1e7,
    "message_burst": 1e6,
    "joins_per_hour": 1e7,
    "join_burst": 1e6,
    "group_messages_per_minute": 10_000_000,
}
READY_TIMEOUT = 120.0


def chat_ref(n: int) -> str:
    return f"bench_scene_{n}"


def cast_of(n: int, accounts: list[int]) -> dict[str, int]:
    """Chat ``n``'s cast: three consecutive accounts, wrapping round."""
    return {role: accounts[(3 * n + k) % len(accounts)] for k, role in enumerate(ROLES)}


class RunEnds:
    """``run.ended`` as the scripts service announces it (a watch on the bus): who ended how."""

    def __init__(self) -> None:
        self.outcomes: dict[int, str] = {}
        self._waiters: dict[int, asyncio.Future[str]] = {}

    async def on_event(self, event: Event) -> None:
        ended = event.payload_as(RunEnded)
        self.outcomes[ended.run_id] = ended.outcome
        waiter = self._waiters.pop(ended.run_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(ended.outcome)

    def ended(self, run_id: int) -> asyncio.Future[str]:
        waiter = asyncio.get_running_loop().create_future()
        if run_id in self.outcomes:
            waiter.set_result(self.outcomes[run_id])
        else:
            self._waiters[run_id] = waiter
        return waiter


@dataclass
class ScriptsWorld:
    db: Database
    sandbox: RunningSandbox
    http: aiohttp.ClientSession
    scale: float
    platform: Platform | None = None
    scripts: RunningScripts | None = None
    ends: RunEnds = field(default_factory=RunEnds)
    accounts: list[int] = field(default_factory=list)  # account ids
    user_ids: dict[int, int] = field(default_factory=dict)  # account id → sandbox user id
    chats: list[int] = field(default_factory=list)  # chats.id of every own chat
    phases: list[list[int]] = field(default_factory=list)  # each phase's chats.ids, in order
    scenario_id: int = 0
    box: SecretBox = field(default_factory=lambda: SecretBox(Fernet.generate_key()))
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def call(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        async with self.http.request(method, path, json=body) as response:
            payload: dict[str, Any] = await response.json()
        if not payload.get("ok"):
            raise RuntimeError(f"sandbox refused {method} {path}: {payload}")
        return payload

    @property
    def bus(self) -> Bus:
        assert self.platform is not None, "set by start()"
        return self.platform.bus

    # ---- building it -----------------------------------------------------------------------

    async def build(self, phases: list[int], accounts: int) -> None:
        """Sandbox accounts, ``phases[k]`` chats for phase ``k``, the workspace, the scene, who
        sits in which chat."""
        runs = sum(phases)
        await self.call("PATCH", "/_sandbox/limits", {"account": UNLIMITED})
        sessions = []
        for n in range(accounts):
            made = await self.call("POST", "/_sandbox/accounts", {"first_name": f"Actor{n}"})
            sessions.append((made["session"], int(made["user_id"])))
        for n in range(runs):
            body = {"ref": chat_ref(n), "title": f"Bench club {n}"}
            await self.call("POST", "/_sandbox/chats", body)
        spec_text = json.dumps(
            {
                "accounts": [
                    {"name": f"actor-{n}", "role": "scripts", "session": session}
                    for n, (session, _) in enumerate(sessions)
                ],
                "chats": [
                    {"ref": f"@{chat_ref(n)}", "title": f"Bench club {n}", "own": True}
                    for n in range(runs)
                ],
            }
        )
        spec, located = parse_workspace(spec_text, "bench-workspace.json")
        async with self.db.transaction() as session:
            await apply_workspace(session=session, spec=spec, located=located, box=self.box)
        await self._load_ids(runs, [user for _, user in sessions])
        firsts = [sum(phases[:k]) for k in range(len(phases))]
        self.phases = [self.chats[a : a + size] for a, size in zip(firsts, phases, strict=True)]
        await self._seat_cast()
        self.scenario_id = await self._scenario()

    async def _load_ids(self, runs: int, users: list[int]) -> None:
        async with self.db.session() as session:
            named = dict((await session.execute(select(Account.name, Account.id))).all())
            refs = dict((await session.execute(select(Chat.ref, Chat.id))).all())
        self.accounts = [int(named[f"actor-{n}"]) for n in range(len(users))]
        self.user_ids = dict(zip(self.accounts, users, strict=True))
        by_ref = {ref.lstrip("@"): int(chat_id) for ref, chat_id in refs.items()}
        self.chats = [by_ref[chat_ref(n)] for n in range(runs)]

    def casts(self) -> list[tuple[int, dict[str, int]]]:
        """Every chat with its cast: the ``n``-th chat of each phase gets ``cast_of(n)``."""
        return [
            (chat, cast_of(n, self.accounts))
            for chats in self.phases
            for n, chat in enumerate(chats)
        ]

    async def _seat_cast(self) -> None:
        """Each chat's cast is in the chat before the workers start (they join their chats)."""
        rows = {(account, chat) for chat, cast in self.casts() for account in cast.values()}
        async with self.db.transaction() as session:
            session.add_all(SceneMember(account_id=a, chat_id=c) for a, c in sorted(rows))

    async def _scenario(self) -> int:
        """What the admin API stores for a saved scene (version 1)."""
        async with self.db.transaction() as session:
            row = Scenario(name="bench-qa", version=1, source=SCENE, roles=list(ROLES), cast={})
            session.add(row)
            await session.flush()
            session.add(ScenarioVersion(scenario_id=row.id, version=1, source=SCENE))
            return int(row.id)

    # ---- running it ------------------------------------------------------------------------

    def settings(self) -> Settings:
        return Settings(
            env="test",
            database_url=self.db.url,
            bus_url=AMQP_URL,
            sandbox_url=self.sandbox.url,
            scene_time_scale=self.scale,
            scene_min_gap=0,  # pacing is not what is measured
            scene_lines_per_hour=10_000_000,
            scene_repeat_window_hours=0,
        )

    async def start(self) -> None:
        """The outbox relay, the scripts service and the workers, as the demo wires them."""
        settings = self.settings()
        bus = make_bus(AMQP_URL)
        await bus.start()
        relay = OutboxRelay(self.db, bus)
        self.tasks.append(asyncio.create_task(relay.run(), name="bench-outbox-relay"))
        self.platform = Platform(settings, self.db, bus, self.box, relay)
        await bus.watch([RunEnded.NAME], self.ends.on_event)
        self.scripts = await start_scripts(self.platform)
        for account_id in self.accounts:
            worker = build_worker(self.platform, account_id, join_interval=0.0)
            self.tasks.append(asyncio.create_task(worker.run(), name=f"worker-{account_id}"))
        await wait_for(self._seated, "every worker to join its chats", READY_TIMEOUT)

    async def _seated(self) -> bool:
        for task in self.tasks:
            if task.done():
                raise RuntimeError(f"{task.get_name()} stopped: {task.exception()!r}")
        listed = (await self.call("GET", "/_sandbox/chats"))["chats"]
        members = {c["ref"].lstrip("@"): set(c["members"]) for c in listed}
        refs = {chat_id: chat_ref(n) for n, chat_id in enumerate(self.chats)}
        return all(
            {self.user_ids[a] for a in cast.values()} <= members.get(refs[chat], set())
            for chat, cast in self.casts()
        )

    async def begin(self, phase: int, n: int, start_at: datetime | None = None) -> SceneResult:
        """Start the ``n``-th run of a phase in its chat through the scripts service's command,
        as the panel does; the same ``n`` plays the same run (cast, seed) in every phase."""
        command = SceneCommand(
            action="start",
            actor=ACTOR,
            scenario_id=self.scenario_id,
            chat_id=self.phases[phase][n],
            cast=cast_of(n, self.accounts),
            start_at=start_at,
            seed=n,
        )
        result = await send_scene_command(self.bus, command)
        if result.outcome != "done":
            raise RuntimeError(f"run in chat {n} not started: {result.detail} {result.problems}")
        return result

    async def clean(self) -> None:
        """Nothing of the last phase left: runs, lines, history, variations, engagement. Ids go
        on (no restart): a line's idempotency key names its run, and the workers remember keys."""
        async with self.db.transaction() as session:
            await session.execute(text("truncate scene_runs, scene_variant_uses cascade"))

    async def stop(self) -> None:
        if self.scripts is not None:
            await self.scripts.stop()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.platform is not None:
            await self.platform.bus.close()


async def delete_queues(account_ids: list[int]) -> None:
    """The services' and the workers' queues on the benchmarks' virtual host, and their DLQs."""
    names = [*SERVICE_QUEUES, *(account_queue(a) for a in account_ids)]
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        for name in names:
            for queue in (name, f"{name}.dlq"):
                await channel.queue_delete(queue)


Body = Callable[[ScriptsWorld], Awaitable[dict[str, object]]]


async def in_world(
    db_url: str, scale: float, phases: list[int], accounts: int, body: Body
) -> dict[str, object]:
    """Build the world on a fresh schema and empty queues, run ``body`` in it, take it down."""
    db = Database(db_url)
    sandbox = await serve("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession(base_url=sandbox.url) as http:
            world = ScriptsWorld(db, sandbox, http, scale)
            log("fresh schema, migrations, workspace, scene")
            await fresh_schema(db)
            await world.build(phases, accounts)
            await delete_queues(world.accounts)
            log(f"{accounts} workers joining {sum(phases)} chats")
            try:
                await world.start()
                return await body(world)
            finally:
                await world.stop()
                await delete_queues(world.accounts)
    finally:
        await sandbox.stop()
        await db.close()
