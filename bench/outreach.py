"""Outreach end to end: ``lead.found`` → manager (LLM draft, schedule, dispatch) → worker → DM.

Every service runs as its own ``python -m coolthing run …`` process against PostgreSQL and
RabbitMQ, as in ``tests/e2e``: the sandbox plays Telegram and the LLM (the real ``openai`` client
talks to it, every completion takes ``--latency-ms``), the manager and one worker per manager
account. No parser runs: this process plays it, writing the lead rows the way the parser does and
publishing ``lead.found`` on the bus. Caps are lifted for the benchmark only: the manager's pacing
is off (``COOLTHING_MANAGER_PACING=false``), the campaign has no quiet hours, gaps or warm-up, and
the sandbox's account limits are raised.

Latency of a lead is the worker's ``message.sent.sent_at`` (its clock once Telegram accepted the
DM) minus the moment this process published the lead's ``lead.found`` (same machine), observed on a
queue of our own bound to ``message.sent``. Throughput is leads divided by the time from the first
publish to the last ``sent_at``.

Ours publishes ``--leads`` leads at once. The baseline is the same pipeline in the same run handled
one lead at a time (publish, wait for its ``message.sent``, then the next) for ``--baseline-leads``
other people: a person gets one first message only, so the two runs cannot share leads. At the end
each lead's user must have received exactly one DM in the sandbox (``dms_ok``).

The report adds each service's CPU time per lead in the concurrent run (``cpu_ms_per_lead``, from
/proc; PostgreSQL and RabbitMQ whole, and this process as the publisher and observer): with one
event loop taking 200 leads round-robin, every lead finishes about when the busiest process has
done all of their work, so that number sets p50 and p99 alike.

Run: ``python -m bench.outreach [--leads 200] [--managers 1] [--manager-processes 1]``
(PostgreSQL and RabbitMQ on COOLTHING_BENCH_DATABASE_URL / COOLTHING_BENCH_AMQP_URL, else database
and vhost coolthing_bench on 127.0.0.1). ``--profile manager,bots-2`` runs those services under
cProfile (``<name>.prof`` in the kept log directory). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection, ExchangeType
from aio_pika.exceptions import ChannelNotFoundEntity
from sqlalchemy import insert, select

from bench.pipeline import (
    AMQP_URL,
    DB_URL,
    START_TIMEOUT,
    Sandbox,
    Stack,
    fresh_schema,
    main,
    service_env,
    wait_for,
)
from core.bus import Bus
from core.bus.factory import make_bus
from core.chatref import normalize_chat_ref
from core.db import Database
from core.db.models import Account, Campaign, Lead
from core.events import Event, LeadFound, MessageSent
from core.topology import MANAGER_LEADS, SERVICE_QUEUES, account_queue

EXCHANGE = "coolthing"  # the bus's default exchange, which every service publishes to
CHAT = "bench_outreach"
KEYWORDS = ["developer"]
WARMUP_LEADS = 5  # through the pipeline before anything is measured: pools, imports, caches warm
LEAD_TIMEOUT = 20.0  # seconds for one baseline lead's DM
RUN_TIMEOUT = 90.0  # seconds for every lead of the concurrent run
SETTLE = 1.0  # seconds after the last DM before the sandbox is asked who got how many
GOAL_P99_MS = 1500.0
GOAL_RATIO = 50.0
# The sandbox's defaults are Telegram-like (20 new dialogs an hour): lifted for the benchmark.
UNLIMITED = {
    "new_dms_per_hour": 1e6,
    "new_dm_burst": 1e4,
    "messages_per_minute": 1e6,
    "message_burst": 1e4,
}
FAST_OUTREACH = {
    "offer": "We build web apps in four weeks.",
    "approval": False,
    "quiet_hours": None,
    "min_gap_seconds": 0,
    "max_gap_seconds": 0,
    "warmup_days": 0,
    "new_dms_per_day": 10_000,
    "messages_per_minute": 1000,
}


# ---- the world -----------------------------------------------------------------------------------


@dataclass
class World:
    sandbox: Sandbox
    chat_id: int
    campaign_id: int = 0
    manager_ids: list[int] = field(default_factory=list)  # account ids, one worker each


def workspace(parser_session: str, manager_sessions: list[str]) -> dict[str, Any]:
    """One campaign on one chat; a parser account only because a campaign must name one."""
    managers = [f"manager-{n}" for n in range(1, len(manager_sessions) + 1)]
    accounts = [{"name": "parser-1", "role": "parser", "session": parser_session}]
    accounts += [
        {"name": name, "role": "manager", "session": session}
        for name, session in zip(managers, manager_sessions, strict=True)
    ]
    return {
        "accounts": accounts,
        "chats": [{"ref": f"@{CHAT}", "title": "Bench outreach"}],
        "keyword_sets": [{"name": "web-dev", "keywords": KEYWORDS}],
        "campaigns": [
            {
                "name": "bench",
                "keyword_sets": ["web-dev"],
                "chats": [f"@{CHAT}"],
                "parser_accounts": ["parser-1"],
                "manager_accounts": managers,
                "outreach": FAST_OUTREACH,
            }
        ],
    }


async def create_world(
    sandbox: Sandbox, managers: int, latency_ms: int, logs: Path
) -> tuple[Path, int]:
    """Sandbox chat and accounts, limits lifted, LLM latency set, responder off; the workspace
    file for them and the chat's id."""
    await sandbox.call("PUT", "/_sandbox/responder", {"enabled": False})
    await sandbox.call("PATCH", "/_sandbox/limits", {"account": UNLIMITED})
    await sandbox.call("POST", "/_sandbox/llm", {"latency_ms": latency_ms, "clear": True})
    chat = await sandbox.call("POST", "/_sandbox/chats", {"ref": CHAT, "title": "Bench outreach"})
    parser = await sandbox.call("POST", "/_sandbox/accounts", {"first_name": "Parser"})
    sessions = [
        (await sandbox.call("POST", "/_sandbox/accounts", {"first_name": f"Manager{n}"}))["session"]
        for n in range(1, managers + 1)
    ]
    path = logs / "workspace.yaml"  # JSON is YAML
    text = json.dumps(workspace(parser["session"], sessions), ensure_ascii=False, indent=1)
    path.write_text(text, encoding="utf-8")
    return path, int(chat["chat"]["chat_id"])


async def load_ids(db: Database, world: World, managers: int) -> None:
    async with db.session() as session:
        campaign = await session.scalar(select(Campaign.id).where(Campaign.name == "bench"))
        names = [f"manager-{n}" for n in range(1, managers + 1)]
        rows = await session.execute(
            select(Account.name, Account.id).where(Account.name.in_(names))
        )
    assert campaign is not None, "the workspace made no campaign"
    by_name = {name: int(account_id) for name, account_id in rows.all()}
    world.campaign_id = int(campaign)
    world.manager_ids = [by_name[name] for name in names]


@dataclass(frozen=True)
class BenchLead:
    lead_id: int
    user_id: int
    message_id: int  # of the chat message that made the lead (never posted: no parser runs)
    text: str


async def make_leads(db: Database, world: World, count: int, label: str) -> list[BenchLead]:
    """Sandbox users (so DMs to them are delivered) and their lead rows, as the parser writes
    them: new, one hit, the matching message's text and the sender's profile."""
    users = []
    for n in range(count):
        body = {"first_name": f"{label.capitalize()}{n}", "last_name": "Lead"}
        users.append((await world.sandbox.call("POST", "/_sandbox/users", body))["profile"])
    now = datetime.now(UTC)
    texts = {
        int(user["user_id"]): f"Looking for a developer, {label} project {n}"
        for n, user in enumerate(users)
    }
    message_ids = {int(user["user_id"]): int(user["user_id"]) for user in users}  # unique
    rows = [
        {
            "campaign_id": world.campaign_id,
            "telegram_user_id": int(user["user_id"]),
            "username": user["username"],
            "profile": user,  # the sender's Profile, as the parser stores it
            "chat_id": world.chat_id,
            "chat_ref": normalize_chat_ref(CHAT),
            "message_id": message_ids[int(user["user_id"])],
            "text": texts[int(user["user_id"])],
            "link": None,
            "keywords": KEYWORDS,
            "hits": 1,
            "status": "new",
            "first_seen_at": now,
            "last_seen_at": now,
        }
        for user in users
    ]
    query = insert(Lead).returning(Lead.id, Lead.telegram_user_id, sort_by_parameter_order=True)
    async with db.transaction() as session:
        made = (await session.execute(query, rows)).all()
    return [
        BenchLead(int(lead_id), int(user), message_ids[int(user)], texts[int(user)])
        for lead_id, user in made
    ]


def lead_found(world: World, lead: BenchLead) -> Event:
    return Event.of(
        LeadFound(
            lead_id=lead.lead_id,
            campaign_id=world.campaign_id,
            telegram_user_id=lead.user_id,
            chat_id=world.chat_id,
            message_id=lead.message_id,
            text=lead.text,
            keywords=KEYWORDS,
            is_new=True,
        )
    )


# ---- the broker ----------------------------------------------------------------------------------


def queues(account_ids: list[int]) -> list[str]:
    names = [*SERVICE_QUEUES, *(account_queue(a) for a in account_ids)]
    return [q for name in names for q in (name, f"{name}.dlq")]


async def delete_queues(account_ids: list[int]) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        for queue in queues(account_ids):
            await channel.queue_delete(queue)


async def consumers(connection: AbstractRobustConnection, queue: str) -> int:
    """How many consumers ``queue`` has (0 when it does not exist yet)."""
    channel = await connection.channel()
    try:
        declared = await channel.declare_queue(queue, passive=True, robust=False)
    except ChannelNotFoundEntity:
        return 0  # the broker closed the channel
    count = declared.declaration_result.consumer_count or 0
    await channel.close()
    return int(count)


class Observer:
    """``message.sent`` on an exclusive queue of ours: per user, every ``sent_at`` seen."""

    def __init__(self) -> None:
        self.connection: AbstractRobustConnection | None = None
        self.sent: dict[int, list[float]] = {}
        self._waiting: dict[int, asyncio.Future[float]] = {}

    async def start(self) -> None:
        self.connection = await aio_pika.connect_robust(AMQP_URL)
        channel = await self.connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, MessageSent.NAME)
        await queue.consume(self._on_message, no_ack=True)

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        sent = Event.model_validate_json(message.body).payload_as(MessageSent)
        at = sent.sent_at.timestamp()
        self.sent.setdefault(sent.peer_user_id, []).append(at)
        waiter = self._waiting.get(sent.peer_user_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(at)

    def expect(self, user_id: int) -> asyncio.Future[float]:
        """The first ``sent_at`` of a DM to ``user_id``; call before publishing its lead."""
        waiter = self._waiting[user_id] = asyncio.get_running_loop().create_future()
        if user_id in self.sent:
            waiter.set_result(self.sent[user_id][0])
        return waiter


# ---- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    leads: int
    span: float  # first publish → last sent_at, seconds
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.leads / self.span if self.span > 0 else 0.0

    def percentile(self, q: int) -> float:
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[q - 1]


async def publish_at(bus: Bus, event: Event) -> float:
    """Publish (with the broker's confirm); returns the wall clock just before."""
    started = time.time()
    await bus.publish(event)
    return started


async def run_concurrent(
    bus: Bus, observer: Observer, world: World, leads: list[BenchLead]
) -> Measurement:
    """Every lead's ``lead.found`` at once, then wait for all their DMs."""
    waiters = [observer.expect(lead.user_id) for lead in leads]
    events = [lead_found(world, lead) for lead in leads]
    published = await asyncio.gather(*(publish_at(bus, e) for e in events))
    try:
        sent = await asyncio.wait_for(asyncio.gather(*waiters), RUN_TIMEOUT)
    except TimeoutError:
        done = sum(w.done() for w in waiters)
        raise TimeoutError(f"{done} of {len(leads)} DMs sent after {RUN_TIMEOUT:.0f} s") from None
    return Measurement(
        leads=len(leads),
        span=max(sent) - min(published),
        latencies_ms=[(s - p) * 1000 for s, p in zip(sent, published, strict=True)],
    )


async def run_sequential(
    bus: Bus, observer: Observer, world: World, leads: list[BenchLead]
) -> Measurement:
    """One lead at a time: publish, wait for its ``message.sent``, then the next."""
    latencies, first, last = [], 0.0, 0.0
    for lead in leads:
        waiter = observer.expect(lead.user_id)
        published = await publish_at(bus, lead_found(world, lead))
        sent = await asyncio.wait_for(waiter, LEAD_TIMEOUT)
        first, last = first or published, sent
        latencies.append((sent - published) * 1000)
    return Measurement(len(leads), last - first, latencies)


async def dm_counts(sandbox: Sandbox, users: list[int]) -> dict[int, int]:
    """How many DMs each user received from any account."""
    counts = {}
    for user in users:
        listed = (await sandbox.call("GET", f"/_sandbox/dms?user={user}"))["messages"]
        counts[user] = sum(1 for m in listed if m["to"]["user_id"] == user)
    return counts


# ---- the run -------------------------------------------------------------------------------------


async def start_services(stack: Stack, world: World, manager_processes: int) -> None:
    for n in range(1, manager_processes + 1):
        stack.start("manager" if n == 1 else f"manager-{n}", "manager")
    for account_id in world.manager_ids:
        stack.start(f"bots-{account_id}", "bots", "--account", str(account_id))
    connection = await aio_pika.connect_robust(AMQP_URL)
    wanted = {MANAGER_LEADS: manager_processes} | {account_queue(a): 1 for a in world.manager_ids}
    try:

        async def consuming() -> bool:
            stack.check_alive()
            return all([await consumers(connection, q) >= n for q, n in wanted.items()])

        await wait_for(consuming, "the manager and workers to consume", START_TIMEOUT)
    finally:
        await connection.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux; 0 where /proc is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SHARED_SERVERS = {"postgres": "postgres", "beam.smp": "rabbitmq"}  # /proc comm → report name


def server_cpu() -> dict[str, float]:
    """CPU seconds so far of the PostgreSQL and RabbitMQ processes on this machine (the whole
    server, not only this benchmark's share: nothing else should run meanwhile)."""
    spent: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/comm"):
        try:
            name = SHARED_SERVERS.get(stat.read_text().strip())
        except OSError:
            continue
        if name is not None:
            spent[name] = spent.get(name, 0.0) + cpu_seconds(int(stat.parent.name))
    return spent


def cpu_snapshot(stack: Stack) -> dict[str, float]:
    spent = {name: cpu_seconds(proc.pid) for name, proc in stack.procs.items()}
    return spent | server_cpu() | {"bench": cpu_seconds(os.getpid())}


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass
class Result:
    ours: Measurement
    base: Measurement
    dms_ok: bool
    wrong_dms: dict[int, int]
    llm_calls: int
    managers: int
    manager_processes: int
    cpu_ms_per_lead: dict[str, float]  # each service's CPU time in the concurrent run, per lead


async def measure_all(stack: Stack, world: World, args: argparse.Namespace, db: Database) -> Result:
    warmup = await make_leads(db, world, WARMUP_LEADS, "warmup")
    sequential = await make_leads(db, world, args.baseline_leads, "sequential")
    concurrent = await make_leads(db, world, args.leads, "concurrent")
    observer = Observer()
    bus = make_bus(AMQP_URL)
    try:
        await observer.start()
        await bus.start()
        await start_services(stack, world, args.manager_processes)
        log(f"services up; warm-up: {WARMUP_LEADS} leads at once, then one alone")
        await run_concurrent(bus, observer, world, warmup[:-1])
        await run_sequential(bus, observer, world, warmup[-1:])
        calls_before = int((await world.sandbox.call("GET", "/_sandbox/llm"))["calls"])
        log(f"baseline: {len(sequential)} leads one at a time")
        base = await run_sequential(bus, observer, world, sequential)
        log(f"  {base.rate:.2f} leads/s, p50 {base.percentile(50):.0f} ms")
        log(f"ours: {len(concurrent)} leads at once")
        cpu_before = cpu_snapshot(stack)
        ours = await run_concurrent(bus, observer, world, concurrent)
        log(
            f"  {ours.rate:.1f} leads/s, p50 {ours.percentile(50):.0f} ms, "
            f"p99 {ours.percentile(99):.0f} ms"
        )
        calls = int((await world.sandbox.call("GET", "/_sandbox/llm"))["calls"]) - calls_before
        await asyncio.sleep(SETTLE)  # the manager records the last deliveries meanwhile
        cpu = {
            name: round((spent - cpu_before.get(name, 0.0)) * 1000 / len(concurrent), 2)
            for name, spent in cpu_snapshot(stack).items()
        }
        stack.check_alive()
        users = [lead.user_id for lead in [*warmup, *sequential, *concurrent]]
        counts = await dm_counts(world.sandbox, users)
        wrong = {user: n for user, n in counts.items() if n != 1}
        wrong |= {u: len(s) for u, s in observer.sent.items() if len(s) != 1}
        managers = len(world.manager_ids)
        return Result(ours, base, not wrong, wrong, calls, managers, args.manager_processes, cpu)
    finally:
        await bus.close()
        await observer.close()


def table(result: Result, latency_ms: int) -> str:
    lines = [
        f"outreach: lead.found → manager ({result.manager_processes} process(es), "
        f"{result.managers} manager account(s), sandbox LLM at "
        f"{latency_ms} ms, pacing off) → worker → DM; latency = message.sent.sent_at − publish",
        f"{'path':<28}{'leads':>7}{'leads/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}",
    ]
    rows = {"ours: all at once": result.ours, "baseline: one at a time": result.base}
    for name, m in rows.items():
        worst = max(m.latencies_ms, default=float("nan"))
        lines.append(
            f"{name:<28}{m.leads:>7}{m.rate:>9.2f}{m.percentile(50):>9.0f}"
            f"{m.percentile(99):>9.0f}{worst:>9.0f}"
        )
    lines.append(
        f"DMs: {'exactly one per lead' if result.dms_ok else f'wrong for {result.wrong_dms}'}; "
        f"LLM calls in the measured runs: {result.llm_calls}"
    )
    spent = ", ".join(f"{name} {ms:.1f}" for name, ms in result.cpu_ms_per_lead.items())
    lines.append(f"CPU ms per lead in the concurrent run: {spent}")
    return "\n".join(lines)


def summary(result: Result, latency_ms: int) -> dict[str, object]:
    ours, base = result.ours, result.base
    ratio = ours.rate / base.rate if base.rate else 0.0
    p99 = ours.percentile(99)
    return {
        "bench": "outreach",
        "ours": round(ours.rate, 2),
        "baseline": round(base.rate, 3),
        "ratio": round(ratio, 2),
        "unit": "leads/s",
        "leads": ours.leads,
        "llm_latency_ms": latency_ms,
        "p50_ms": round(ours.percentile(50), 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(max(ours.latencies_ms), 1),
        "baseline_p50_ms": round(base.percentile(50), 1),
        "baseline_leads": base.leads,
        "managers": result.managers,
        "manager_processes": result.manager_processes,
        "cpu_ms_per_lead": result.cpu_ms_per_lead,
        "llm_calls": result.llm_calls,
        "dms_ok": result.dms_ok,
        "goal_met": p99 < GOAL_P99_MS and ratio >= GOAL_RATIO and result.dms_ok,
    }


async def run(args: argparse.Namespace, logs: Path) -> dict[str, object]:
    profile = {name for name in args.profile.split(",") if name}
    env = service_env(logs)
    env |= {
        "COOLTHING_LLM_BASE_URL": f"{env['COOLTHING_SANDBOX_URL']}/v1",
        "COOLTHING_LLM_API_KEY": "sandbox-key",
        "COOLTHING_MANAGER_PACING": "false",
    }
    stack = Stack(env, logs, profile)
    sandbox = Sandbox(env["COOLTHING_SANDBOX_URL"])
    account_ids: list[int] = []
    db = Database(DB_URL)
    try:
        stack.start("sandbox", "sandbox")
        await wait_for(lambda: sandbox.call("GET", "/_sandbox/health"), "sandbox", START_TIMEOUT)
        workspace_file, chat_id = await create_world(sandbox, args.managers, args.latency_ms, logs)
        world = World(sandbox, chat_id)
        log("fresh schema, migrations, workspace")
        await fresh_schema(stack, workspace_file)
        await load_ids(db, world, args.managers)
        account_ids = world.manager_ids
        await delete_queues(account_ids)
        result = await measure_all(stack, world, args, db)
    finally:
        stack.stop()
        await sandbox.http.aclose()
        await db.close()
        await delete_queues(account_ids)
    print(table(result, args.latency_ms))
    return summary(result, args.latency_ms)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.outreach", description=__doc__)
    parser.add_argument("--leads", type=int, default=200, help="leads published at once")
    parser.add_argument("--baseline-leads", type=int, default=20, help="leads one at a time")
    parser.add_argument("--latency-ms", type=int, default=300, help="sandbox LLM latency")
    parser.add_argument(
        "--managers", type=int, default=1, help="manager accounts (one worker each)"
    )
    parser.add_argument(
        "--manager-processes", type=int, default=1, help="`coolthing run manager` processes"
    )
    parser.add_argument("--profile", default="", help="services to cProfile, e.g. manager,bots-2")
    parser.add_argument("--keep-logs", action="store_true", help="keep service logs")
    return parser.parse_args()


if __name__ == "__main__":
    main("outreach", parse_args(), run)
