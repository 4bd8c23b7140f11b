"""Scripts mode under load: how late scene lines go out when 200 runs play at once.

One process, real parts (``bench.scripts_world``): the sandbox Telegram, the scripts service and
one account worker per scripts account on PostgreSQL and RabbitMQ, time compressed by
``scene_time_scale`` (``--scale``), pacing off (no minimum gap, no hourly cap, no repeat window)
and the sandbox's account limits lifted. The scene has six lines for three roles, pauses and
"typing…", no listen; ``--accounts`` scripts accounts share the own chats (three per chat, each
account in runs of several chats at once); each phase has ``--runs`` chats of its own.

Drift of a line: ``sent_at − (due_at + typing_seconds)`` from ``scene_run_lines``. ``due_at`` is
when the scene wanted the line (its typing starts then: the end of a pause, or the moment the
previous line was confirmed), ``sent_at`` the worker's clock once Telegram accepted it.

Ours: one run per chat, all started through the scripts service's command (``send_scene_command``,
as the panel does) with the same ``start_at`` a moment ahead, so all ``--runs`` begin together.
Baseline, in the same benchmark run: the same runs (scene, casts, seeds) one after another in
fresh chats (start one, wait for its ``run.ended``, start the next). A warm-up (a few runs at
once, two in a row) comes first; the scene tables are emptied before each phase. The drift of
each phase is split into stages (``bench.scripts_stages``), and the lines per second at once
tell the throughput the drift queues for.

CPU per run in each phase, starting the runs included: this process (``time.process_time``:
scripts service, workers, relay, sandbox and the load generator alike), PostgreSQL and RabbitMQ
(whole servers, from /proc, as ``bench.panel`` and ``bench.outreach``; nothing else should run
meanwhile).

Run: ``python -m bench.scripts [--runs 200] [--accounts 30] [--scale 0.002]`` (PostgreSQL and
RabbitMQ on COOLTHING_BENCH_DATABASE_URL / COOLTHING_BENCH_AMQP_URL, else database and vhost
coolthing_bench on 127.0.0.1). ``--profile`` writes a cProfile of the at-once phase to
``scripts.prof`` in the kept log directory. The last line is one JSON object; ``goal_met`` when
the p99 drift of the runs at once is under 200 ms and every run finished.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bench.notifier_setup import log
from bench.outreach import server_cpu
from bench.panel import postgres_cpu
from bench.pipeline import DB_URL, main
from bench.scripts_stages import STAGES, stages
from bench.scripts_world import SCENE_LINES, ScriptsWorld, in_world
from core.db.scene_models import SceneRunLine
from core.events import as_utc, utcnow

GOAL_P99_MS = 200.0
WARMUP_RUNS = 10
WARM_UP, AT_ONCE, ONE_AFTER_ANOTHER = 0, 1, 2  # the phases, in the order they play
COMMANDS_IN_FLIGHT = 8  # start commands waiting at the scripts service at a time
RUN_TIMEOUT = 30.0  # seconds for one run of the baseline
PHASE_TIMEOUT = 300.0  # seconds for every run at once


@dataclass(frozen=True)
class Cpu:
    """CPU seconds so far: this process, PostgreSQL, RabbitMQ."""

    process: float
    postgres: float
    rabbitmq: float

    @classmethod
    def now(cls) -> Cpu:
        return cls(time.process_time(), postgres_cpu(), server_cpu().get("rabbitmq", 0.0))

    def since(self, start: Cpu) -> Cpu:
        return Cpu(
            self.process - start.process,
            self.postgres - start.postgres,
            self.rabbitmq - start.rabbitmq,
        )

    def per_run_ms(self, runs: int) -> dict[str, float]:
        spent = {"process": self.process, "postgres": self.postgres, "rabbitmq": self.rabbitmq}
        return {name: round(seconds * 1000 / runs, 1) for name, seconds in spent.items()}


@dataclass(frozen=True)
class Phase:
    runs: int
    wall: float  # seconds: the first run's start to the last run's end
    cpu: Cpu
    drifts: list[tuple[int, float]]  # (source line, ms) of every line sent
    outcomes: Counter[str]
    stages: dict[str, dict[str, float]]  # stage → p50, p99 ms (bench.scripts_stages)
    commands: float = 0.0  # seconds until every start command was answered (at once)
    late_starts: int = 0  # runs whose start command was answered after their start_at

    def ms(self) -> list[float]:
        return [ms for _, ms in self.drifts]

    def percentile(self, q: int) -> float:
        return percentile(self.ms(), q)


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def drifts(world: ScriptsWorld, run_ids: list[int]) -> list[tuple[int, float]]:
    async with world.db.session() as session:
        rows = await session.execute(
            select(
                SceneRunLine.line,
                SceneRunLine.due_at,
                SceneRunLine.typing_seconds,
                SceneRunLine.sent_at,
            ).where(SceneRunLine.run_id.in_(run_ids), SceneRunLine.status == "sent")
        )
        found = []
        for line, due, typing, sent in rows:
            if sent is None:
                continue
            wanted = as_utc(due) + timedelta(seconds=typing)
            found.append((int(line), (as_utc(sent) - wanted).total_seconds() * 1000))
    return sorted(found)


async def ended(world: ScriptsWorld, run_ids: list[int], seconds: float) -> Counter[str]:
    """How the runs ended, once every one has (or the timeout, counting the rest as stuck)."""
    waiters = [world.ends.ended(run_id) for run_id in run_ids]
    done, pending = await asyncio.wait(waiters, timeout=seconds)
    for waiter in pending:
        waiter.cancel()
    outcomes = Counter(w.result() for w in done)
    if pending:
        outcomes["not ended"] = len(pending)
    return outcomes


# ---- the two ways of playing them -----------------------------------------------------------


async def at_once(world: ScriptsWorld, phase: int, runs: int, margin: float) -> Phase:
    """One run per chat, all due at the same ``start_at``, ``margin`` seconds ahead (time for
    every start command to be answered first)."""
    await world.clean()
    cpu = Cpu.now()
    start_at = utcnow() + timedelta(seconds=margin)
    slots = asyncio.Semaphore(COMMANDS_IN_FLIGHT)

    async def begin(n: int) -> tuple[int, datetime]:
        async with slots:
            result = await world.begin(phase, n, start_at)
        return result.run_ids[0], utcnow()

    sending = time.monotonic()
    started = await asyncio.gather(*(begin(n) for n in range(runs)))
    commands = time.monotonic() - sending
    run_ids = [run_id for run_id, _ in started]
    late = sum(answered > start_at for _, answered in started)
    outcomes = await ended(world, run_ids, PHASE_TIMEOUT + margin)
    wall = (utcnow() - start_at).total_seconds()
    spent = Cpu.now().since(cpu)
    found = await drifts(world, run_ids)
    traced = await stages(world.db, run_ids)
    return Phase(runs, wall, spent, found, outcomes, traced, commands, late)


async def one_after_another(world: ScriptsWorld, phase: int, runs: int) -> Phase:
    await world.clean()
    cpu = Cpu.now()
    first = utcnow()
    run_ids, outcomes = [], Counter[str]()
    for n in range(runs):
        run_id = (await world.begin(phase, n)).run_ids[0]
        run_ids.append(run_id)
        outcomes += await ended(world, [run_id], RUN_TIMEOUT)
    wall = (utcnow() - first).total_seconds()
    spent = Cpu.now().since(cpu)
    found = await drifts(world, run_ids)
    return Phase(runs, wall, spent, found, outcomes, await stages(world.db, run_ids))


async def warm_up(world: ScriptsWorld) -> float:
    """Pools, caches and queues warm; returns the seconds one start command took at once."""
    warm = await at_once(world, WARM_UP, WARMUP_RUNS, margin=3.0)
    await one_after_another(world, WARM_UP, 2)
    await world.clean()
    return warm.commands / WARMUP_RUNS


async def idle_cpu(seconds: float = 3.0) -> float:
    """Share of a core this process uses with nothing to play (polls, cursors, timers)."""
    before = time.process_time()
    await asyncio.sleep(seconds)
    return (time.process_time() - before) / seconds


# ---- the report ---------------------------------------------------------------------------------


def by_line(phase: Phase) -> dict[str, float]:
    """p99 drift of each of the scene's lines (by source line number): where the lateness is."""
    lines: dict[int, list[float]] = {}
    for line, ms in phase.drifts:
        lines.setdefault(line, []).append(ms)
    return {str(line): round(percentile(values, 99), 1) for line, values in sorted(lines.items())}


def table(ours: Phase, base: Phase, args: argparse.Namespace) -> str:
    head = (
        f"scripts: {args.runs} runs of a {SCENE_LINES}-line, 3-role scene, time scale "
        f"{args.scale:g}, {args.accounts} accounts; drift = sent_at − (due_at + typing)"
    )
    rows = [
        head,
        f"{'phase':<26}{'lines':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'wall s':>8}"
        f"{'CPU ms/run: here':>18}{'pg':>7}{'rabbit':>8}",
    ]
    for name, phase in (("ours: all at once", ours), ("baseline: one after another", base)):
        cpu = phase.cpu.per_run_ms(phase.runs)
        rows.append(
            f"{name:<26}{len(phase.drifts):>7}{phase.percentile(50):>9.1f}"
            f"{phase.percentile(99):>9.1f}{max(phase.ms(), default=float('nan')):>9.1f}"
            f"{phase.wall:>8.1f}{cpu['process']:>18.1f}{cpu['postgres']:>7.1f}"
            f"{cpu['rabbitmq']:>8.1f}"
        )
    for name, phase in (("at once", ours), ("one after another", base)):
        parts = ", ".join(
            f"{stage} {phase.stages[stage]['p50']:.0f}/{phase.stages[stage]['p99']:.0f}"
            for stage in STAGES
            if stage in phase.stages
        )
        rows.append(f"drift by stage, p50/p99 ms, {name}: {parts}")
    spread = ", ".join(f"line {line}: {ms:.0f}" for line, ms in by_line(ours).items())
    rows.append(f"p99 ms by scene line, at once: {spread}")
    rows.append(
        f"runs ended: at once {dict(ours.outcomes)}, one after another {dict(base.outcomes)}"
    )
    return "\n".join(rows)


def summary(ours: Phase, base: Phase, args: argparse.Namespace) -> dict[str, object]:
    p99, base_p99 = ours.percentile(99), base.percentile(99)
    finished = ours.outcomes["finished"] == ours.runs and base.outcomes["finished"] == base.runs
    return {
        "bench": "scripts",
        "ours": round(p99, 1),
        "baseline": round(base_p99, 1),
        "ratio": round(p99 / base_p99, 2) if base_p99 > 0 else None,
        "unit": "ms p99 line drift",
        "p50_ms": round(ours.percentile(50), 1),
        "max_ms": round(max(ours.ms(), default=float("nan")), 1),
        "baseline_p50_ms": round(base.percentile(50), 1),
        "baseline_max_ms": round(max(base.ms(), default=float("nan")), 1),
        "runs": ours.runs,
        "lines": len(ours.drifts),
        "baseline_lines": len(base.drifts),
        "lines_expected": ours.runs * SCENE_LINES,
        "accounts": args.accounts,
        "time_scale": args.scale,
        "wall_s": round(ours.wall, 2),
        "lines_per_s": round(len(ours.drifts) / ours.wall, 1) if ours.wall > 0 else None,
        "baseline_wall_s": round(base.wall, 2),
        "cpu_ms_per_run": ours.cpu.per_run_ms(ours.runs),
        "baseline_cpu_ms_per_run": base.cpu.per_run_ms(base.runs),
        "p99_ms_by_line": by_line(ours),
        "stages_ms": ours.stages,
        "baseline_stages_ms": base.stages,
        "outcomes": dict(ours.outcomes),
        "baseline_outcomes": dict(base.outcomes),
        "start_commands_s": round(ours.commands, 2),
        "late_starts": ours.late_starts,
        "goal_met": bool(ours.drifts) and p99 < GOAL_P99_MS and finished,
    }


async def measure(world: ScriptsWorld, args: argparse.Namespace, logs: Path) -> dict[str, object]:
    log(f"warm-up: {WARMUP_RUNS} runs at once, 2 one after another")
    per_command = await warm_up(world)
    idle = await idle_cpu()
    margin = 1.0 + 2 * args.runs * per_command  # twice what the warm-up's commands took
    log(f"ours: {args.runs} runs at once, starting {margin:.1f} s after their commands go out")
    profile = cProfile.Profile(time.process_time) if args.profile else None
    if profile is not None:
        profile.enable()
    ours = await at_once(world, AT_ONCE, args.runs, margin)
    if profile is not None:
        profile.disable()
        profile.dump_stats(logs / "scripts.prof")
    log(f"  p50 {ours.percentile(50):.0f} ms, p99 {ours.percentile(99):.0f} ms")
    log(f"baseline: {args.runs} runs one after another")
    base = await one_after_another(world, ONE_AFTER_ANOTHER, args.runs)
    log(f"  p50 {base.percentile(50):.0f} ms, p99 {base.percentile(99):.0f} ms")
    print(table(ours, base, args))
    return summary(ours, base, args) | {"idle_process_cpu_pct": round(idle * 100, 1)}


async def run(args: argparse.Namespace, logs: Path) -> dict[str, object]:
    async def body(world: ScriptsWorld) -> dict[str, object]:
        return await measure(world, args, logs)

    phases = [WARMUP_RUNS, args.runs, args.runs]  # each phase in chats of its own
    return await in_world(DB_URL, args.scale, phases, args.accounts, body)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scripts", description=__doc__)
    parser.add_argument("--runs", type=int, default=200, help="runs (and own chats)")
    parser.add_argument(
        "--accounts", type=int, default=30, help="scripts accounts, one worker each"
    )
    parser.add_argument("--scale", type=float, default=0.002, help="scene time scale")
    parser.add_argument("--profile", action="store_true", help="cProfile the at-once phase")
    parser.add_argument("--keep-logs", action="store_true", help="keep the log directory")
    args = parser.parse_args()
    if args.accounts < 3:
        parser.error("--accounts: three roles need at least 3")
    return args


if __name__ == "__main__":
    main("scripts", parse_args(), run)
