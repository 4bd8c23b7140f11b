"""Parser mode end to end: sandbox chat messages → account workers → RabbitMQ → parser → lead rows.

Every service runs as its own ``python -m coolthing run …`` process against PostgreSQL and RabbitMQ,
as in ``tests/e2e``: the sandbox Telegram with four of the demo's chats, two parser accounts, the
demo keyword sets, the parser and one worker per account. The sandbox audience then posts at the
offered rate for a fixed time. Latency is ``lead_hits.seen_at`` (the parser's clock) minus the
message's ``date_ts`` (the sandbox's clock; same machine); throughput is messages posted divided by
the time from the first post to the last lead hit, so a pipeline that falls behind is charged for
its backlog.

The baseline is the same load through the minimal direct path in this process, on its own thread
(``bench.pipeline_direct``): a ``SandboxAccountClient`` per account reading the same sandbox →
``Matcher`` → ``record_hits`` in a transaction on a fresh schema. No bus, no worker processes, no
at-least-once hand-off.

CPU (``bench.pipeline_cpu``): seconds per 1,000 messages offered, from the first post to the last
lead hit, for the account workers, the parser, RabbitMQ and PostgreSQL (ours), and the sandbox
(with the audience that generates the load inside it) and this process's driver (``load``), which
are not ours; the direct path's thread and its PostgreSQL share the same way. The broker and
database servers are shared with the machine: before the runs the bench measures them idle for
about as long as a run's window and subtracts that rate. The backend of the bench's own polling for
lead hits (one connection) is not counted on either side.

Run: ``python -m bench.pipeline [--rate 1000] [--seconds 10]`` (PostgreSQL and RabbitMQ on
COOLTHING_BENCH_DATABASE_URL / COOLTHING_BENCH_AMQP_URL, else database and vhost coolthing_bench on
127.0.0.1). ``--profile parser,bots-1`` runs those services under cProfile (``<name>.prof`` in the
kept log directory). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bench.pipeline_cpu import BACKGROUND, Meter, Window, window_cpu
from bench.pipeline_direct import DirectThread
from bench.pipeline_measure import Measurement, measure
from bench.pipeline_report import cpu_table, summary, table
from bench.pipeline_stack import (
    AMQP_URL,
    DB_URL,
    START_TIMEOUT,
    Stack,
    main,
    service_env,
    wait_for,
)
from bench.pipeline_world import ACCOUNTS, Sandbox, Setup, create_world, describe_assignment
from bots.sandbox_client import SandboxAccountClient
from core.db import Database
from core.db.models import ChatAssignment

# Other benchmarks import these from here.
__all__ = [
    "AMQP_URL",
    "DB_URL",
    "START_TIMEOUT",
    "Sandbox",
    "Stack",
    "fresh_schema",
    "main",
    "service_env",
    "wait_for",
]

WARMUP_SECONDS = 3.0  # posted and drained before each measured run: pools and caches warm


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


def driver_database() -> Database:
    """The bench's own connection, one: its backend is told apart from the pipeline's."""
    return Database(DB_URL, pool_size=1, max_overflow=0)


async def backend_pid(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(text("select pg_backend_pid()")) or 0)


def meter(
    pids: dict[str, list[int]], threads: dict[str, list[int]], driver: int | None = None
) -> Meter:
    """A CPU meter for these processes and threads plus the bench's broker and database."""
    db = make_url(DB_URL)
    found = Meter(
        pg_port=db.port or 5432,
        database=db.database or "",
        amqp_port=urlsplit(AMQP_URL).port or 5672,
        pids=pids,
        threads=threads,
        driver_backend=driver,
    )
    found.locate()
    return found


async def idle_rates(seconds: float) -> dict[str, float]:
    """CPU seconds per second the shared broker and database background spend with none of our
    services running: other vhosts' and databases' work, timers, statistics."""
    servers = meter({}, {})
    first = servers.snapshot()
    await asyncio.sleep(seconds)
    spent = window_cpu(first, servers.snapshot())
    return {name: spent.get(name, 0.0) / seconds for name in ("rabbitmq", BACKGROUND)}


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


async def run_ours(stack: Stack, setup: Setup, rate: float, seconds: float) -> Measurement:
    await fresh_schema(stack, setup.workspace_file)
    await delete_queues()
    db = driver_database()
    workers = [f"bots-{n}" for n in range(1, ACCOUNTS + 1)]
    try:
        await start_services(stack, setup, db)
        await measure(setup, db, rate, WARMUP_SECONDS)
        pids = {
            "workers": [stack.procs[name].pid for name in workers],
            "parser": [stack.procs["parser"].pid],
            "sandbox": [stack.procs["sandbox"].pid],
        }
        cpu = meter(pids, {}, await backend_pid(db))
        result = await measure(setup, db, rate, seconds, cpu.snapshot)
        stack.check_alive()
        return result
    finally:
        stack.stop("parser", *workers)
        await db.close()
        await delete_queues()


# ---- baseline: the direct path on a thread of this process ---------------------------------------


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
    sessions = [setup.sessions[user] for user in sorted(await listeners(setup))]
    refs = {chat_id: ref for ref, chat_id in setup.chat_ids.items()}
    direct = DirectThread(DB_URL, setup.sandbox.url, sessions, refs)
    db = driver_database()  # on this loop: polling for hits is not the direct path
    try:
        await direct.start()
        await measure(setup, db, rate, WARMUP_SECONDS)
        sandbox = {"sandbox": [stack.procs["sandbox"].pid]}
        cpu = meter(sandbox, {"direct": [direct.tid]}, await backend_pid(db))
        result = await measure(setup, db, rate, seconds, cpu.snapshot)
        direct.check()
        return result
    finally:
        await direct.stop()
        await db.close()


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
        # Before anything of ours touches them (after a run, autovacuum still works on its rows).
        idle = await idle_rates(args.seconds + 1)
        ours = await run_ours(stack, setup, args.rate, args.seconds)
        base = await run_direct(stack, setup, args.rate, args.seconds)
    finally:
        await sandbox.http.aclose()
        stack.stop()
    rows = {"ours: 2 workers → RabbitMQ → parser": ours, "direct: 1 thread, no bus": base}
    print(table(args.rate, args.seconds, WARMUP_SECONDS, setup, rows))
    if isinstance(ours.cpu, Window) and isinstance(base.cpu, Window):
        print(cpu_table(ours.cpu, base.cpu, idle))
    return summary(args.rate, ours, base, idle)


if __name__ == "__main__":
    main("pipeline", parse_args(), run)
