"""Footprint of the account workers: ``--accounts`` accounts under the watchdog's local runtime.

Real parts (``bench.workers_world``): the sandbox Telegram as its own process, PostgreSQL and
RabbitMQ, ``coolthing run watchdog`` as a process with ``COOLTHING_WATCHDOG_RUNTIME=local`` in
``--mode fork`` (the default: workers forked from the runtime's warm fork server) or ``exec`` (a
``coolthing run bots --account ID`` interpreter per account, the runtime before the fork server).
Every account is a sandbox account with a session and an own chat it sits in; all are added in
one transaction by ``apply_workspace`` while the watchdog runs.

Measured, ours (a process per account, under the watchdog):
- from "account added" (the transaction's commit) to the worker's first heartbeat row and to the
  account's membership of its chat in the sandbox ("listening"): p50, p99, the last one;
- memory once all listen and ``--settle`` seconds passed: RSS and PSS of every worker and of the
  fork server (``/proc/PID/smaps_rollup``: PSS divides each shared page among the processes that
  share it, so the sum is what they cost together); per account = (workers + fork server) / N;
- idle CPU: the workers' and the fork server's CPU seconds over ``--idle`` seconds without
  traffic, per account in % of a core (the watchdog's and PostgreSQL's beside it);
- restart: ``--restarts`` workers SIGKILLed one after another, each timed until its account's
  heartbeat row names a new process (the first restart after a crash does not back off);
- kills by the watchdog: workers killed as hung (no heartbeat) or as ``start_timeout`` (no first
  heartbeat in time), counted in the watchdog's log, while they started and over the whole run.

Baseline, in the same run: the same accounts served by ONE process (``python -m
bench.workers_world``: ``bots.bootstrap.run_worker`` per account, heartbeats included, one
database pool and one bus connection), its RSS, PSS and idle CPU per account. ours = PSS MB per
account under the watchdog, baseline = the one process's PSS MB per account.

Goal (``goal_met``): 100 accounts in well under a quarter of the 24 GB box, taken as at most
30 MB PSS per account (3 GB for 100, half the quarter), AND a killed worker back within 2 s at
the median (``restart_s.p50``), AND no worker outliving its watchdog.

The servers must hold a process per account: every worker keeps one database connection (and
may open one more for an overlap), so 100 accounts need PostgreSQL's max_connections above
Debian's 100 (the run refuses a smaller server rather than starve everyone else's connections on
it), and its own AMQP connection and queue (with a DLQ), so RabbitMQ needs file descriptors to
spare (Debian's node gets 927 of a 1,024 limit; a node shared with test suites ran out at ~70
workers).

Run: ``python -m bench.workers [--accounts 100] [--mode fork|exec] [--max-starting N]
[--restarts 10] [--idle 30]`` (PostgreSQL and RabbitMQ on COOLTHING_BENCH_DATABASE_URL /
COOLTHING_BENCH_AMQP_URL). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.notifier_setup import SandboxProcess, fresh_schema, log, process_cpu, wait_for
from bench.pipeline import AMQP_URL, DB_URL, main
from bench.scripts_world import delete_queues
from bench.workers_world import (
    Postgres,
    World,
    alive,
    core_pct,
    fork_server_of,
    kills_in,
    listed,
    memory_mb,
    memory_of,
    percentile,
    restarts_so_far,
    spread,
    watchdog_holds_lease,
)
from core.db import Database

QUARTER_MB = 24 * 1024 / 4
PSS_GOAL_MB = 30.0  # per account: 100 accounts in half of a quarter of the box
RESTART_GOAL_S = 2.0  # the median restart of a killed worker
START_TIMEOUT = 600.0  # every worker listening, from the commit
STOP_TIMEOUT = 40.0  # the watchdog's stop grace (15 s) and room


def process_env(world: World, sandbox_url: str, args: argparse.Namespace) -> dict[str, str]:
    """The watchdog's environment, which its workers inherit (and the baseline's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOLTHING_")}
    return (
        env
        | {
            "COOLTHING_ENV": "test",
            "COOLTHING_DATABASE_URL": DB_URL,
            "COOLTHING_BUS_URL": AMQP_URL,
            "COOLTHING_SECRET_KEY": world.key.decode(),
            "COOLTHING_TELEGRAM_BACKEND": "sandbox",
            "COOLTHING_SANDBOX_URL": sandbox_url,
            "COOLTHING_JOIN_INTERVAL": "0",
            "COOLTHING_LOG_LEVEL": "WARNING",
            "COOLTHING_WATCHDOG_RUNTIME": "local",
            "COOLTHING_WATCHDOG_LOCAL_MODE": args.mode,
            "COOLTHING_WATCHDOG_RECONCILE_INTERVAL": str(args.reconcile),
        }
        | ({"COOLTHING_WATCHDOG_MAX_STARTING": str(args.max_starting)} if args.max_starting else {})
    )


def spawn(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


async def stop(proc: subprocess.Popen[bytes], seconds: float = STOP_TIMEOUT) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait, 10)


async def startup(
    world: World, added: float, watching: subprocess.Popen[bytes]
) -> tuple[list[float], list[float]]:
    """Seconds from ``added`` (``time.time``) to each account's first heartbeat row and to its
    membership of its chat, polled every 0.2 s."""
    beat: dict[int, float] = {}
    joined: dict[int, float] = {}
    deadline = time.monotonic() + START_TIMEOUT
    while len(joined) < len(world.accounts) or len(beat) < len(world.accounts):
        if watching.poll() is not None:
            raise RuntimeError(f"the serving process exited with {watching.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(joined)} of {len(world.accounts)} listening in time")
        now = time.time() - added
        for account in await world.beats():
            beat.setdefault(account, now)
        for account in await world.joined():
            joined.setdefault(account, now)
        await asyncio.sleep(0.2)
    return list(beat.values()), list(joined.values())


async def idle_cpu(
    pids: list[int], others: dict[str, int], pg: Postgres, seconds: float
) -> dict[str, float]:
    """CPU seconds over ``seconds`` of ``pids`` together ("workers"), each of ``others``, and
    this PostgreSQL server."""
    before = (sum(map(process_cpu, pids)), {n: process_cpu(p) for n, p in others.items()}, pg.cpu())
    await asyncio.sleep(seconds)
    spent = {"workers": sum(map(process_cpu, pids)) - before[0]}
    spent |= {n: process_cpu(p) - before[1][n] for n, p in others.items()}
    spent["postgres"] = pg.cpu() - before[2]
    return spent


async def restart_times(world: World, count: int) -> tuple[list[float], list[float]]:
    """SIGKILL one worker at a time; seconds until its account's heartbeat names a new pid, and
    of those, until the watchdog had launched the new process (its ``worker_states.started_at``;
    the rest is the worker's own start: interpreter, imports, database, bus, first beat)."""
    back, launched = [], []
    for account in world.accounts[:count]:
        old = (await world.beats())[account][0]
        killed_at = time.time()
        os.kill(old, signal.SIGKILL)
        while (await world.beats()).get(account, (old, 0.0))[0] == old:
            if time.time() - killed_at > 60:
                raise TimeoutError(f"account {account}'s worker not back within 60 s")
            await asyncio.sleep(0.01)
        back.append(time.time() - killed_at)
        launched.append(await world.launched_at(account) - killed_at)
        await asyncio.sleep(0.5)  # the next kill is not part of this restart
    return back, launched


@dataclass
class Isolated:
    """Ours: a process per account under the watchdog."""

    beat_s: list[float]
    listening_s: list[float]
    startup_restarts: int  # restarts the watchdog made while they started (hung or crashed)
    startup_kills: dict[str, int]  # hung / start_timeout kills while they started
    rss: list[float]
    pss: list[float]
    server: tuple[float, float]  # the fork server's RSS, PSS (0, 0 under exec)
    watchdog: tuple[float, float]  # its own RSS, PSS
    idle: dict[str, float]  # CPU s over the idle window: workers, fork_server, watchdog, postgres
    restarts: list[float]
    launches: list[float]  # of each restart, the seconds until the watchdog launched it
    kills: dict[str, int]  # hung / start_timeout kills over the whole run
    strays: int  # workers alive after their watchdog stopped


@dataclass
class OneProcess:
    """The baseline: every account's worker in one process."""

    beat_s: list[float]
    rss: float
    pss: float
    idle: dict[str, float]  # CPU seconds over the idle window: workers, postgres


async def measure_ours(
    world: World,
    made: list[tuple[str, int]],
    env: dict[str, str],
    logs: Path,
    pg: Postgres,
    args: argparse.Namespace,
) -> Isolated:
    argv = [sys.executable, "-m", "coolthing", "run", "watchdog"]
    watchdog = spawn(argv, env, logs / "watchdog.log")
    pids: list[int] = []
    try:
        await wait_for(lambda: watchdog_holds_lease(world.db), "the watchdog's lease", 60)
        log(f"watchdog {watchdog.pid} holds the lease; adding {len(made)} accounts")
        added = await world.add(made)
        beat, joined = await startup(world, added, watchdog)
        startup_restarts = await restarts_so_far(world.db)
        startup_kills = kills_in(logs / "watchdog.log")
        log(f"all listening after {max(joined):.1f} s; settling {args.settle} s")
        await asyncio.sleep(args.settle)
        pids = [pid for pid, _ in (await world.beats()).values()]
        rss, pss = memory_of(pids)
        server_pid = fork_server_of(watchdog.pid)
        server = memory_mb(server_pid) if server_pid else (0.0, 0.0)
        own = memory_mb(watchdog.pid)
        log(f"idle for {args.idle} s")
        others = {"watchdog": watchdog.pid} | ({"fork_server": server_pid} if server_pid else {})
        idle = await idle_cpu(pids, others, pg, args.idle)
        idle.setdefault("fork_server", 0.0)
        log(f"killing {args.restarts} workers one after another")
        restarts, launches = await restart_times(world, args.restarts)
        pids = [pid for pid, _ in (await world.beats()).values()]
    finally:
        await stop(watchdog)
    kills = kills_in(logs / "watchdog.log")
    await asyncio.sleep(1.0)  # SIGTERM from the dying watchdog (PR_SET_PDEATHSIG) takes a moment
    strays = alive(pids)
    for pid in strays:  # a worker must die with its watchdog: counted, then stopped here
        os.kill(pid, signal.SIGKILL)
    return Isolated(
        beat_s=beat,
        listening_s=joined,
        startup_restarts=startup_restarts,
        startup_kills=startup_kills,
        rss=rss,
        pss=pss,
        server=server,
        watchdog=own,
        idle=idle,
        restarts=restarts,
        launches=launches,
        kills=kills,
        strays=len(strays),
    )


async def measure_baseline(
    world: World, env: dict[str, str], logs: Path, pg: Postgres, args: argparse.Namespace
) -> OneProcess:
    await world.clear_beats()
    argv = [sys.executable, "-m", "bench.workers_world", *map(str, world.accounts)]
    began = time.time()
    one = spawn(argv, env, logs / "one-process.log")
    try:
        beat, _ = await startup(world, began, one)
        log(f"one process: every account beating after {max(beat):.1f} s")
        await asyncio.sleep(args.settle)
        rss, pss = memory_mb(one.pid)
        idle = await idle_cpu([one.pid], {}, pg, args.idle)
    finally:
        await stop(one)
    return OneProcess(beat, rss, pss, idle)


async def run(args: argparse.Namespace, logs: Path) -> dict[str, object]:
    db = Database(DB_URL)
    pg = await Postgres.of(db)
    needed = 2 * args.accounts + 20  # a connection each, one more for an overlap
    if pg.max_connections < needed:
        await db.close()
        raise SystemExit(
            f"PostgreSQL allows {pg.max_connections} connections; {args.accounts} worker "
            f"processes need about {needed}: use a server with more (see the docstring)"
        )
    sandbox = SandboxProcess(logs)
    try:
        async with aiohttp.ClientSession(base_url=sandbox.url) as http:
            world = World(db, http)
            await wait_for(lambda: world.call("GET", "/_sandbox/health"), "sandbox", 60)
            log("fresh schema, sandbox accounts and chats")
            await fresh_schema(db)
            made = await world.prepare(args.accounts)
            env = process_env(world, sandbox.url, args)
            try:
                ours = await measure_ours(world, made, env, logs, pg, args)
                baseline = await measure_baseline(world, env, logs, pg, args)
            finally:
                await delete_queues(world.accounts)
    finally:
        sandbox.stop()
        await db.close()
    print(table(ours, baseline, args))
    return summary(ours, baseline, args)


def per_account_pss(ours: Isolated, n: int) -> float:
    """What an account costs: its worker's PSS, and its share of the fork server's."""
    return (sum(ours.pss) + ours.server[1]) / n


def table(ours: Isolated, base: OneProcess, args: argparse.Namespace) -> str:
    n, window = args.accounts, args.idle
    ours_cpu = ours.idle["workers"] + ours.idle["fork_server"]
    rows = [
        f"workers: {n} accounts, sandbox Telegram, PostgreSQL, RabbitMQ; idle {window:g} s",
        f"{'':<34}{'PSS MB/acct':>12}{'RSS MB/acct':>12}{'PSS total':>11}{'idle %core/acct':>17}"
        f"{'pg %core/acct':>15}",
        f"{'ours: ' + args.mode + ', process per account':<34}{per_account_pss(ours, n):>12.1f}"
        f"{percentile(ours.rss, 50):>12.1f}{sum(ours.pss) + ours.server[1]:>11.0f}"
        f"{core_pct(ours_cpu, window, n):>17.3f}"
        f"{core_pct(ours.idle['postgres'], window, n):>15.3f}",
        f"{'baseline: one process':<34}{base.pss / n:>12.1f}{base.rss / n:>12.1f}"
        f"{base.pss:>11.0f}{core_pct(base.idle['workers'], window, n):>17.3f}"
        f"{core_pct(base.idle['postgres'], window, n):>15.3f}",
        f"fork server: RSS {ours.server[0]:.0f} MB, PSS {ours.server[1]:.0f} MB; worker PSS p50 "
        f"{percentile(ours.pss, 50):.1f} MB",
        f"watchdog itself: RSS {ours.watchdog[0]:.0f} MB, PSS {ours.watchdog[1]:.0f} MB, idle "
        f"{ours.idle['watchdog'] / window * 100:.2f} % of a core",
        f"added → first heartbeat, s: {spread(ours.beat_s)}",
        f"added → listening (in its chat), s: {spread(ours.listening_s)}",
        f"one process, start → every heartbeat, s: {spread(base.beat_s)}",
        f"restarts while starting: {ours.startup_restarts} (kills {ours.startup_kills}); kills "
        f"over the run {ours.kills}; workers left after the watchdog stopped: {ours.strays}",
        f"SIGKILL → new heartbeat, s, one by one: {listed(ours.restarts)}",
        f"  of which until the watchdog launched it: {listed(ours.launches)}",
    ]
    return "\n".join(rows)


def summary(ours: Isolated, base: OneProcess, args: argparse.Namespace) -> dict[str, object]:
    n = args.accounts
    per_account = per_account_pss(ours, n)
    baseline = base.pss / n
    restart_ok = bool(ours.restarts) and percentile(ours.restarts, 50) < RESTART_GOAL_S
    ours_cpu = ours.idle["workers"] + ours.idle["fork_server"]
    return {
        "bench": "workers",
        "ours": round(per_account, 1),
        "baseline": round(baseline, 1),
        "ratio": round(per_account / baseline, 2),
        "unit": "MB PSS per account",
        "mode": args.mode,
        "accounts": n,
        "max_starting": args.max_starting or "default",
        "pss_total_mb": round(sum(ours.pss) + ours.server[1], 0),
        "pss_worker_p50_mb": round(percentile(ours.pss, 50), 1),
        "fork_server_pss_mb": round(ours.server[1], 1),
        "rss_p50_mb": round(percentile(ours.rss, 50), 1),
        "share_of_quarter": round((sum(ours.pss) + ours.server[1]) / QUARTER_MB, 3),
        "baseline_rss_mb": round(base.rss, 0),
        "idle_cpu_pct_core_per_account": core_pct(ours_cpu, args.idle, n),
        "baseline_idle_cpu_pct_core_per_account": core_pct(base.idle["workers"], args.idle, n),
        "postgres_idle_pct_core_per_account": core_pct(ours.idle["postgres"], args.idle, n),
        "listening_s": spread(ours.listening_s),
        "first_beat_s": spread(ours.beat_s),
        "startup_restarts": ours.startup_restarts,
        "startup_kills": ours.startup_kills,
        "kills": ours.kills,
        "restart_s": spread(ours.restarts),
        "restart_launch_s": spread(ours.launches),
        "strays": ours.strays,
        "goal": {"pss_mb_per_account_max": PSS_GOAL_MB, "restart_p50_s_max": RESTART_GOAL_S},
        "goal_met": per_account <= PSS_GOAL_MB and restart_ok and ours.strays == 0,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__)
    parser.add_argument("--accounts", type=int, default=100, help="accounts (workers)")
    parser.add_argument(
        "--mode", choices=("fork", "exec"), default="fork", help="the local runtime's mode"
    )
    parser.add_argument(
        "--max-starting", type=int, default=0, help="workers starting at once (0: the default)"
    )
    parser.add_argument("--restarts", type=int, default=10, help="workers killed one by one")
    parser.add_argument("--idle", type=float, default=30.0, help="idle CPU window, seconds")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument(
        "--reconcile", type=float, default=5.0, help="watchdog reconcile interval, seconds"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    parser.add_argument("--profile", default="", help=argparse.SUPPRESS)  # with_logs reads it
    args = parser.parse_args()
    args.restarts = min(args.restarts, args.accounts)
    return args


if __name__ == "__main__":
    main("workers", parse_args(), run)
