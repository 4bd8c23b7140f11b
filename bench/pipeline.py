"""Parser mode end to end: sandbox chat messages → account workers → RabbitMQ → parser → lead rows.

Every service runs as its own ``python -m coolthing run …`` process against PostgreSQL and RabbitMQ,
as in ``tests/e2e``: the sandbox Telegram with four of the demo's chats, two parser accounts, the
demo keyword sets, the parser and one worker per account. The sandbox audience then posts at the
offered rate for a fixed time. Latency is ``lead_hits.seen_at`` (the parser's clock) minus the
message's ``date_ts`` (the sandbox's clock; same machine); throughput is messages posted divided by
the time from the first post to the last lead hit, so a pipeline that falls behind is charged for
its backlog.

The baseline is the same load through the minimal direct path in this one process: a
``SandboxAccountClient`` per account reading the same sandbox → ``Matcher`` → ``record_hits`` in a
transaction on a fresh schema. No bus, no worker processes, no at-least-once hand-off.

Run: ``python -m bench.pipeline [--rate 1000] [--seconds 10]`` (PostgreSQL and RabbitMQ on
COOLTHING_BENCH_DATABASE_URL / COOLTHING_BENCH_AMQP_URL, else database and vhost coolthing_bench on
127.0.0.1). ``--profile parser,bots-1`` runs those services under cProfile (``<name>.prof`` in the
kept log directory). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import yaml
from cryptography.fernet import Fernet
from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.sql.elements import ColumnElement

from bots.sandbox_client import SandboxAccountClient
from core.db import Database
from core.db.models import ChatAssignment, LeadHit
from parser.leads import record_hits
from parser.matcher import KeywordSetRules, Matcher
from parser.rules import CompiledRules, load_rules

# The benchmarks' own database and virtual host (compose/ensure-services.sh makes them): a test
# suite running beside us resets coolthing_test and consumes from its queues.
DB_URL = os.environ.get(
    "COOLTHING_BENCH_DATABASE_URL",
    "postgresql+asyncpg://coolthing:coolthing@127.0.0.1:5432/coolthing_bench",
)
AMQP_URL = os.environ.get(
    "COOLTHING_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/coolthing_bench"
)
ACCOUNTS = 2
SEED = 7
WARMUP_SECONDS = 1.0  # posted and drained before each measured run: pools and caches warm
DRAIN_TIMEOUT = 30.0  # seconds after the last post for every expected lead hit to exist
START_TIMEOUT = 30.0
PAGE = 10_000  # the sandbox's largest /_sandbox/messages page


# ---- processes -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """``coolthing`` processes sharing one environment; ``stop`` ends them (SIGTERM, then KILL)."""

    def __init__(self, env: dict[str, str], logs: Path, profile: set[str]) -> None:
        self.env = env
        self.logs = logs
        self.profile = profile
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def _python(self, name: str) -> list[str]:
        if name not in self.profile:
            return [sys.executable]
        return [sys.executable, "-m", "cProfile", "-o", str(self.logs / f"{name}.prof")]

    def start(self, name: str, *args: str) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                [*self._python(name), "-m", "coolthing", "run", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def command(self, *args: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "coolthing", *args, env=self.env, stdout=-1, stderr=-1
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        if proc.returncode != 0:
            raise RuntimeError(f"coolthing {' '.join(args)} failed:\n{out.decode()}{err.decode()}")

    def stop(self, *names: str) -> None:
        procs = [self.procs.pop(n) for n in (names or list(self.procs)) if n in self.procs]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise RuntimeError(f"services exited early {dead}; logs in {self.logs}")


def service_env(logs: Path) -> dict[str, str]:
    sandbox_port = free_port()
    return {
        **os.environ,
        "COOLTHING_ENV": "test",
        "COOLTHING_DATABASE_URL": DB_URL,
        "COOLTHING_BUS_URL": AMQP_URL,
        "COOLTHING_SECRET_KEY": Fernet.generate_key().decode(),
        "COOLTHING_SECRET_KEY_FILE": str(logs / "secret.key"),
        "COOLTHING_SANDBOX_PORT": str(sandbox_port),
        "COOLTHING_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}",
        "COOLTHING_API_PORT": str(free_port()),
        "COOLTHING_JOIN_INTERVAL": "0",
        "COOLTHING_LOG_LEVEL": os.environ.get("COOLTHING_LOG_LEVEL", "INFO"),
    }


async def wait_for(check: Callable[[], Awaitable[object]], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if await check():
                return
        except (httpx.HTTPError, OSError):
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError(f"timed out after {seconds:.0f}s waiting for {what}")


# ---- broker and database -------------------------------------------------------------------------


def service_queues() -> list[str]:
    names = ["parser.messages", "parser.control"]
    names += [f"bots.account.{n}" for n in range(1, ACCOUNTS + 1)]
    return [q for name in names for q in (name, f"{name}.dlq")]


async def delete_queues() -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        for queue in service_queues():
            await channel.queue_delete(queue)


async def fresh_schema(stack: Stack, workspace: Path) -> None:
    """Empty public schema, newest migrations, then the workspace: what each run starts from."""
    db = Database(DB_URL)
    try:
        async with db.engine.begin() as connection:
            await connection.execute(text("drop schema public cascade"))
            await connection.execute(text("create schema public"))
    finally:
        await db.close()
    await stack.command("migrate")
    await stack.command("workspace", "apply", str(workspace))


# ---- the sandbox ---------------------------------------------------------------------------------


class Sandbox:
    """The sandbox's test endpoints over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.AsyncClient(base_url=url, timeout=10)

    async def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = await self.http.request(method, path, json=body)
        payload: dict[str, Any] = response.json()
        if not payload.get("ok"):
            raise RuntimeError(f"sandbox refused {method} {path}: {payload}")
        return payload

    async def chats(self) -> list[dict[str, Any]]:
        chats: list[dict[str, Any]] = (await self.call("GET", "/_sandbox/chats"))["chats"]
        return chats

    async def ends(self, chat_ids: list[int]) -> dict[int, int]:
        """The last message id of each chat: what a run posts comes after it."""
        path = "/_sandbox/messages?chat={}&since=1000000000&limit=1"
        return {c: (await self.call("GET", path.format(c)))["last_message_id"] for c in chat_ids}

    async def messages(self, chat_id: int, since: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            path = f"/_sandbox/messages?chat={chat_id}&since={since}&limit={PAGE}"
            page = (await self.call("GET", path))["messages"]
            if not page:
                return found
            found += page
            since = page[-1]["message_id"]  # message ids are history positions + 1

    async def post_audience(self, rate: float, count: int, chat_ids: list[int]) -> None:
        body = {"rate": rate, "count": count, "seed": SEED, "chats": chat_ids}
        await self.call("POST", "/_sandbox/audience/start", body)

        async def done() -> bool:
            status = await self.call("GET", "/_sandbox/audience")
            return not status["running"] and status["posted"] >= count

        await wait_for(done, "the audience to post", count / rate * 3 + 10)


# ---- the workspace -------------------------------------------------------------------------------


def demo_workspace(chat_count: int, sessions: list[str]) -> dict[str, Any]:
    """The demo's keyword sets and campaigns over its first ``chat_count`` chats, parsers only."""
    source = resources.files("coolthing").joinpath("demo_workspace.yaml").read_text("utf-8")
    demo = yaml.safe_load(source)
    chats = demo["chats"][:chat_count]
    in_use = {c["ref"] for c in chats}
    accounts = [
        {"name": f"parser-{i}", "role": "parser", "session": s}
        for i, s in enumerate(sessions, start=1)
    ]
    campaigns = [
        {
            "name": c["name"],
            "keyword_sets": c["keyword_sets"],
            "chats": [r for r in c["chats"] if r in in_use],
            "parser_accounts": [a["name"] for a in accounts],
        }
        for c in demo["campaigns"]
        if in_use.intersection(c["chats"])
    ]
    return {
        "accounts": accounts,
        "chats": chats,
        "keyword_sets": demo["keyword_sets"],
        "campaigns": campaigns,
    }


def oracle(workspace: dict[str, Any], chat_ids: dict[str, int]) -> Matcher:
    """The expected hits: every campaign's keyword sets scoped to its chats' sandbox ids."""
    sets = {s["name"]: s for s in workspace["keyword_sets"]}
    rules = [
        KeywordSetRules(
            set_id=len(sets) * number + i,
            name=name,
            keywords=sets[name]["keywords"],
            exclude=sets[name]["exclude"],
            campaign_id=number,
            chat_ids=frozenset(chat_ids[ref] for ref in campaign["chats"]),
        )
        for number, campaign in enumerate(workspace["campaigns"], start=1)
        for i, name in enumerate(campaign["keyword_sets"])
    ]
    return Matcher.compile(rules)


@dataclass
class Setup:
    sandbox: Sandbox
    workspace: dict[str, Any]
    workspace_file: Path
    chat_ids: dict[str, int]  # "@ref" → sandbox chat id
    sessions: dict[int, str]  # sandbox user id → session
    oracle: Matcher
    assignment: str = ""  # which account listens where, as the parser assigned it


async def create_world(sandbox: Sandbox, chat_count: int, logs: Path) -> Setup:
    demo = demo_workspace(chat_count, [])
    chat_ids = {}
    for chat in demo["chats"]:
        body = {"ref": chat["ref"].lstrip("@"), "title": chat["title"]}
        chat_ids[chat["ref"]] = (await sandbox.call("POST", "/_sandbox/chats", body))["chat"][
            "chat_id"
        ]
    sessions = {}
    for i in range(1, ACCOUNTS + 1):
        made = await sandbox.call("POST", "/_sandbox/accounts", {"first_name": f"Parser{i}"})
        sessions[made["user_id"]] = made["session"]
    # Joins are the only limited call here; keep them out of the way however often we run.
    limits = {"account": {"joins_per_hour": 100_000, "join_burst": 1_000}}
    await sandbox.call("PATCH", "/_sandbox/limits", limits)
    workspace = demo_workspace(chat_count, list(sessions.values()))
    path = logs / "workspace.yaml"
    path.write_text(json.dumps(workspace, ensure_ascii=False, indent=1), encoding="utf-8")
    return Setup(sandbox, workspace, path, chat_ids, sessions, oracle(workspace, chat_ids))


# ---- one measured run ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    messages: int
    leads: int  # expected lead hits: matching messages × campaigns they match
    missing: int
    extra: int
    post_seconds: float  # first post → last post
    span: float  # first post → last lead hit
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.messages / self.span if self.span > 0 else 0.0

    @property
    def posted_rate(self) -> float:
        return self.messages / self.post_seconds if self.post_seconds > 0 else 0.0

    def percentile(self, q: int) -> float:
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[q - 1]


def since_filter(since: dict[int, int]) -> ColumnElement[bool]:
    return or_(*(and_(LeadHit.chat_id == c, LeadHit.message_id > s) for c, s in since.items()))


async def hits_after(db: Database, since: dict[int, int]) -> list[tuple[int, int, float]]:
    """(chat id, message id, seen_at as epoch seconds) of every lead hit of this run."""
    query = select(
        LeadHit.chat_id, LeadHit.message_id, func.extract("epoch", LeadHit.seen_at)
    ).where(since_filter(since))
    async with db.session() as session:
        rows = (await session.execute(query)).all()
    return [(int(c), int(m), float(seen)) for c, m, seen in rows]


async def wait_for_hits(db: Database, since: dict[int, int], expected: int) -> None:
    query = select(func.count()).select_from(LeadHit).where(since_filter(since))

    async def all_there() -> bool:
        async with db.session() as session:
            return int(await session.scalar(query) or 0) >= expected

    try:
        await wait_for(all_there, f"{expected} lead hits", DRAIN_TIMEOUT)
    except TimeoutError as exc:
        print(f"warning: {exc}; measuring what arrived", file=sys.stderr)


def expected_hits(matcher: Matcher, posted: list[dict[str, Any]]) -> Counter[tuple[int, int]]:
    """(chat id, message id) → campaigns the message is a lead for."""
    expected: Counter[tuple[int, int]] = Counter()
    for message in posted:
        hits = matcher.match(message["text"], message["chat_id"])
        campaigns = {h.campaign_id for h in hits}
        if campaigns:
            expected[(message["chat_id"], message["message_id"])] = len(campaigns)
    return expected


async def measure(setup: Setup, db: Database, rate: float, seconds: float) -> Measurement:
    """Post ``rate × seconds`` messages, wait for their lead hits, and score them."""
    chat_ids = list(setup.chat_ids.values())
    since = await setup.sandbox.ends(chat_ids)
    count = max(int(rate * seconds), 1)
    await setup.sandbox.post_audience(rate, count, chat_ids)
    posted = [m for c in chat_ids for m in await setup.sandbox.messages(c, since[c])]
    expected = expected_hits(setup.oracle, posted)
    await wait_for_hits(db, since, sum(expected.values()))
    hits = await hits_after(db, since)
    return score(posted, expected, hits)


def score(
    posted: list[dict[str, Any]],
    expected: Counter[tuple[int, int]],
    hits: list[tuple[int, int, float]],
) -> Measurement:
    dates = {(m["chat_id"], m["message_id"]): float(m["date_ts"]) for m in posted}
    got = Counter((c, m) for c, m, _ in hits)
    first, last = min(dates.values()), max(dates.values())
    return Measurement(
        messages=len(posted),
        leads=sum(expected.values()),
        missing=sum((expected - got).values()),
        extra=sum((got - expected).values()),
        post_seconds=last - first,
        span=max((seen for *_, seen in hits), default=last) - first,
        latencies_ms=[(seen - dates[(c, m)]) * 1000 for c, m, seen in hits if (c, m) in dates],
    )


# ---- ours: separate processes over RabbitMQ ------------------------------------------------------


async def start_services(stack: Stack, setup: Setup, db: Database) -> None:
    stack.start("parser", "parser")

    async def assigned() -> bool:
        stack.check_alive()
        async with db.session() as session:
            count = await session.scalar(select(func.count()).select_from(ChatAssignment))
        return count == len(setup.chat_ids)

    await wait_for(assigned, "the parser to assign chats", START_TIMEOUT)
    for n in range(1, ACCOUNTS + 1):
        stack.start(f"bots-{n}", "bots", "--account", str(n))

    async def everyone_listens() -> bool:
        stack.check_alive()
        return all(c["members"] for c in await setup.sandbox.chats())

    await wait_for(everyone_listens, "workers to join their chats", START_TIMEOUT)
    setup.assignment = describe_assignment(await setup.sandbox.chats(), list(setup.sessions))


def describe_assignment(chats: list[dict[str, Any]], users: list[int]) -> str:
    """'account 1: 3 of 4 chats, …': the audience spreads its messages evenly over the chats."""
    counts = Counter(m for c in chats for m in c["members"])
    parts = [f"account {n}: {counts[u]} of {len(chats)} chats" for n, u in enumerate(users, 1)]
    return ", ".join(parts)


async def run_ours(stack: Stack, setup: Setup, rate: float, seconds: float) -> Measurement:
    await fresh_schema(stack, setup.workspace_file)
    await delete_queues()
    db = Database(DB_URL)
    try:
        await start_services(stack, setup, db)
        await measure(setup, db, rate, WARMUP_SECONDS)
        result = await measure(setup, db, rate, seconds)
        stack.check_alive()
        return result
    finally:
        stack.stop("parser", *(f"bots-{n}" for n in range(1, ACCOUNTS + 1)))
        await db.close()
        await delete_queues()


# ---- baseline: the direct path in this process ---------------------------------------------------


async def direct_reader(
    client: SandboxAccountClient, db: Database, rules: CompiledRules, refs: dict[int, str]
) -> None:
    """Read one account's updates and record its hits, one transaction per matching message."""
    async for message in client.incoming():
        ref = refs.get(message.chat_id)
        chat_id = rules.chat_ids.get(ref or "")
        if message.is_private or chat_id is None:
            continue
        hits = rules.matcher.match(message.text, chat_id)
        if hits:
            async with db.transaction() as session:
                payload = message.as_event(account_id=0, chat_ref=ref)
                await record_hits(session, payload, hits, correlation_id=None)


async def listeners(setup: Setup) -> set[int]:
    """Sandbox user ids of the accounts listening somewhere (each chat has exactly one)."""
    members = {m for c in await setup.sandbox.chats() for m in c["members"]}
    if not members:  # ours did not run: put the accounts in the chats round-robin
        for i, ref in enumerate(setup.chat_ids):
            session = list(setup.sessions.values())[i % ACCOUNTS]
            client = SandboxAccountClient(setup.sandbox.url, session)
            await client.connect()
            await client.join_chat(ref)
            await client.disconnect()
        members = {m for c in await setup.sandbox.chats() for m in c["members"]}
    return members


async def run_direct(stack: Stack, setup: Setup, rate: float, seconds: float) -> Measurement:
    await fresh_schema(stack, setup.workspace_file)
    db = Database(DB_URL)
    clients = [
        SandboxAccountClient(setup.sandbox.url, setup.sessions[user], poll_timeout=1.0)
        for user in sorted(await listeners(setup))
    ]
    refs = {chat_id: ref for ref, chat_id in setup.chat_ids.items()}
    tasks: list[asyncio.Task[None]] = []
    try:
        async with db.session() as session:
            rules = await load_rules(session)
        for client in clients:
            await client.connect()
        tasks = [asyncio.create_task(direct_reader(c, db, rules, refs)) for c in clients]
        await measure(setup, db, rate, WARMUP_SECONDS)
        return await measure(setup, db, rate, seconds)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            await client.disconnect()
        await db.close()


# ---- report --------------------------------------------------------------------------------------


def table(offered: float, seconds: float, setup: Setup, rows: dict[str, Measurement]) -> str:
    lines = [
        f"parser pipeline: {len(setup.chat_ids)} chats, {ACCOUNTS} parser accounts, audience "
        f"seed {SEED}, offered {offered:,.0f} msg/s for {seconds:g} s (after a "
        f"{WARMUP_SECONDS:g} s warm-up); listeners: {setup.assignment}",
        "msg/s = messages / (first post → last lead hit); latency = seen_at − posted date_ts",
        f"{'path':<34}{'msg/s':>8}{'posted/s':>10}{'messages':>10}{'hits':>7}{'missing':>9}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}",
    ]
    for name, m in rows.items():
        worst = max(m.latencies_ms, default=float("nan"))
        lines.append(
            f"{name:<34}{m.rate:>8,.0f}{m.posted_rate:>10,.0f}{m.messages:>10,}{m.leads:>7,}"
            f"{m.missing:>9,}{m.percentile(50):>9.1f}{m.percentile(99):>9.1f}{worst:>9.1f}"
        )
    return "\n".join(lines)


def summary(offered: float, ours: Measurement, base: Measurement) -> dict[str, object]:
    p99 = ours.percentile(99)
    return {
        "bench": "pipeline",
        "ours": round(ours.rate, 1),
        "baseline": round(base.rate, 1),
        "ratio": round(ours.rate / base.rate, 3) if base.rate else None,
        "unit": "msg/s",
        "offered": offered,
        "messages": ours.messages,
        "leads": ours.leads,
        "p50_ms": round(ours.percentile(50), 1),
        "p99_ms": round(p99, 1),
        "baseline_p50_ms": round(base.percentile(50), 1),
        "baseline_p99_ms": round(base.percentile(99), 1),
        "goal_met": ours.rate >= 0.95 * offered and p99 < 50 and ours.missing == 0,
    }


# ---- main ----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__)
    parser.add_argument("--rate", type=float, default=1000.0, help="offered messages per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured posting time")
    parser.add_argument("--chats", type=int, default=4, choices=range(2, 6), help="demo chats")
    parser.add_argument("--profile", default="", help="services to cProfile, e.g. parser,bots-1")
    parser.add_argument("--keep-logs", action="store_true", help="keep service logs")
    return parser.parse_args()


async def run(args: argparse.Namespace, logs: Path) -> dict[str, object]:
    profile = {name for name in args.profile.split(",") if name}
    stack = Stack(service_env(logs), logs, profile)
    sandbox = Sandbox(stack.env["COOLTHING_SANDBOX_URL"])
    try:
        stack.start("sandbox", "sandbox")
        await wait_for(lambda: sandbox.call("GET", "/_sandbox/health"), "sandbox", START_TIMEOUT)
        setup = await create_world(sandbox, args.chats, logs)
        rows = {
            "ours: 2 workers → RabbitMQ → parser": await run_ours(
                stack, setup, args.rate, args.seconds
            ),
            "direct: 1 process, no bus": await run_direct(stack, setup, args.rate, args.seconds),
        }
    finally:
        await sandbox.http.aclose()
        stack.stop()
    ours, base = rows.values()
    print(table(args.rate, args.seconds, setup, rows))
    return summary(args.rate, ours, base)


Benchmark = Callable[[argparse.Namespace, Path], Awaitable[dict[str, object]]]


async def with_logs(
    name: str,
    args: argparse.Namespace,
    run: Benchmark,
) -> dict[str, object]:
    """Run one benchmark with a log directory that is kept on failure or when asked, and stop
    cleanly on SIGTERM (shared by the multi-process benchmarks)."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    logs = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    keep = args.keep_logs or bool(args.profile)
    started = time.monotonic()
    try:
        return await run(args, logs)
    except BaseException:
        keep = True
        raise
    finally:
        print(f"took {time.monotonic() - started:.0f} s", file=sys.stderr)
        if keep:
            print(f"service logs: {logs}", file=sys.stderr)
        else:
            shutil.rmtree(logs, ignore_errors=True)


def main(
    name: str,
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace, Path], Awaitable[dict[str, object]]],
) -> None:
    """Print the final JSON line, or say that an interrupted run stopped what it started."""
    try:
        print(json.dumps(asyncio.run(with_logs(name, args, run))))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit("interrupted; every process this run started was stopped")


if __name__ == "__main__":
    main("pipeline", parse_args(), run)
