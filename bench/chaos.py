"""Reliability under faults (issue 14): leads through parser, manager and account workers run by
the watchdog's local runtime while workers and the manager are SIGKILLed and RabbitMQ and
PostgreSQL are restarted, at random moments from a seed.

Real parts (``bench.chaos_world``): a private PostgreSQL cluster and RabbitMQ node made for the
run and removed after (``bench.private_services``: restarting them disturbs nothing else on the
machine); the sandbox Telegram as its own process; ``coolthing run parser``, ``manager`` and
``watchdog`` processes kept running by a supervisor that starts any that exits again (what
Compose's restart policy does in production); one parser and ``--managers`` manager accounts,
each with a worker the watchdog starts. Leads come the real way: a member posts a matching
message in the campaign's chat, the parser account's worker reads it, the parser records the
lead, the manager drafts the first message with the LLM (the sandbox's) and queues it, a manager
account's worker sends it. DMs are counted at the sandbox, per lead.

The watchdog runs with a backoff of 1 s (cap 2 s) and no quarantine: the run kills workers far
more often than real failures do, and the crash-loop protection has tests of its own.

Two phases in one run, on the same world and at the same posting pace (``--rate`` leads a
second), each with ``--leads`` other people:
- baseline: no faults;
- ours: ``--faults`` faults (each kind at least once) at random moments of the posting window,
  from ``--seed`` (``bench.chaos_faults`` says what each fault does and when it counts as
  recovered: a new heartbeat, the manager consuming again, the first DM after a server is back).
ours = seconds from the first post until every lead had its DM, with faults; baseline = the
same without faults; ratio = ours / baseline; unit "s". The report adds leads, DMs, duplicates
(leads with more than one DM), lost (leads with none), the recovery time per fault kind (every
one, p50, max), services that exited by themselves, what was not back by itself at the end, and
CPU seconds per 1,000 leads of our processes (parser, manager, watchdog, its fork server and
workers; sampled from /proc every 0.2 s) in each phase.

Run: ``python -m bench.chaos [--leads 1000] [--rate 12] [--faults 8] [--seed 14]`` as root
(``runuser`` makes the private servers). The last line is one JSON object; ``ok`` when no lead
was lost or written twice, nothing was dead-lettered, every fault was recovered from, no service
exited by itself and everything was back by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections.abc import Mapping
from pathlib import Path

from bench.chaos_faults import random_plan
from bench.chaos_run import Phase, run_phase
from bench.chaos_world import World
from bench.notifier_setup import log
from bench.pipeline import main
from bench.private_services import open_private_services

BASELINE_LEADS = 800_000  # sandbox user ids of the baseline's leads
CHAOS_LEADS = 810_000
DRAIN_S = 180.0  # after the last post, for every lead's DM
SETTLE_S = 10.0  # after that, for any second DM


def per_thousand(seconds: float, leads: int) -> float:
    return round(seconds / leads * 1000, 1)


async def run(args: argparse.Namespace, logs: Path) -> dict[str, object]:
    rng = random.Random(args.seed)
    async with (
        open_private_services() as services,
        World.open(services, logs, managers=args.managers) as world,
    ):
        observing = asyncio.create_task(world.observe())
        try:
            log(f"baseline: {args.leads} leads at {args.rate}/s, no faults")
            baseline = await run_phase(
                world,
                [BASELINE_LEADS + n for n in range(args.leads)],
                rate=args.rate,
                plan=[],
                drain_s=DRAIN_S,
                settle_s=SETTLE_S,
                say=log,
            )
            log(f"baseline done in {baseline.seconds} s")
            workers = list(world.account_ids)
            plan = random_plan(
                rng, count=args.faults, window=args.leads / args.rate, workers=workers
            )
            for fault in plan:
                log(f"planned: {fault}")
            chaos = await run_phase(
                world,
                [CHAOS_LEADS + n for n in range(args.leads)],
                rate=args.rate,
                plan=plan,
                drain_s=DRAIN_S,
                settle_s=SETTLE_S,
                say=log,
            )
            log(f"with faults done in {chaos.seconds} s")
            problems = await world.health_problems()
            dead = await world.dead_letters()
            wrong = [lead for lead, n in chaos.counts.items() if n != 1][:5]
            traces = {str(lead): await world.trace(lead) for lead in wrong}
        finally:
            observing.cancel()
            await asyncio.gather(observing, return_exceptions=True)
        unplanned = [f"{e.name} exited {e.code}" for e in world.supervisor.unplanned()]
        unplanned += [f"worker pid {pid} ended" for pid in world.worker_exits]
    return summary(baseline, chaos, problems, unplanned, traces, dead, args)


def summary(
    baseline: Phase,
    chaos: Phase,
    problems: list[str],
    unplanned: list[str],
    traces: Mapping[str, object],
    dead: Mapping[str, int],
    args: argparse.Namespace,
) -> dict[str, object]:
    ours, base = chaos.seconds, baseline.seconds
    recovered = all(h.recovered is not None for h in chaos.faults)
    return {
        "bench": "chaos",
        "ours": None if ours is None else round(ours, 1),
        "baseline": None if base is None else round(base, 1),
        "ratio": None if ours is None or base is None else round(ours / base, 2),
        "unit": "s",
        "leads": len(chaos.leads),
        "dms": chaos.dms,
        "duplicates": chaos.duplicates,
        "lost": chaos.lost,
        "baseline_duplicates": baseline.duplicates,
        "baseline_lost": baseline.lost,
        "faults": [
            {
                "at": h.fault.at,
                "kind": h.fault.kind,
                **({"target": h.fault.target} if h.fault.target else {}),
                **({"down_s": h.fault.down} if h.fault.down else {}),
                "recovery_s": None if h.recovery_s is None else round(h.recovery_s, 2),
            }
            for h in chaos.faults
        ],
        "recovery": chaos.recovery(),
        "dead_letters": dead,
        "exited_by_themselves": unplanned,
        "not_back": problems,
        "cpu_s_per_1000_leads": per_thousand(chaos.cpu_s, len(chaos.leads)),
        "baseline_cpu_s_per_1000_leads": per_thousand(baseline.cpu_s, len(baseline.leads)),
        "rate_per_s": args.rate,
        "seed": args.seed,
        "traces": traces,
        "ok": not (chaos.lost or chaos.duplicates or dead or problems or unplanned) and recovered,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--leads", type=int, default=1000, help="leads in each phase")
    parser.add_argument("--rate", type=float, default=12.0, help="leads posted a second")
    parser.add_argument("--faults", type=int, default=8, help="faults (at least one of each)")
    parser.add_argument("--seed", type=int, default=14, help="the faults' random seed")
    parser.add_argument("--managers", type=int, default=2, help="manager accounts")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    parser.add_argument("--profile", default="", help=argparse.SUPPRESS)  # with_logs reads it
    return parser.parse_args()


if __name__ == "__main__":
    main("chaos", parse_args(), run)
