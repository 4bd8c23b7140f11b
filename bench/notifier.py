"""An alert storm through the notifier: how soon every event is visible to the operators, and
how many Bot API calls it took, under Telegram's per-chat limits.

Real parts: PostgreSQL (fresh schema, every migration), the sandbox Telegram as its own process
(``python -m coolthing run sandbox``, Telegram's bot limits: 1 message/s per chat with a burst of
3, 20/min per group, 30/s per bot, edits taken from the chat's budget, 429 with retry_after), and
the notifier started with ``notifier.bootstrap.start_notifier`` in this process on the in-memory
bus, with the real aiogram over HTTP. Five panel operators link their Telegram through
``/start CODE`` and keep the default subscription (everything, new leads each).

The storm: ``--events`` (1,000) events published on the bus over ``--seconds`` (10) at an even
pace: ~94 % ``LeadFound`` (is_new) for real lead rows in three campaigns, ~3 % account trouble
(three accounts banned, three PeerFlood-limited whose sends keep failing: ``SendFailed``), ~3 %
``AlertRaised`` from the API with four fingerprints repeating. No drafts: each draft is a message
of its own with buttons, so a storm of them cannot be visible within seconds at 1 message/s per
chat by design, grouped or not.

"Visible": a process of its own (``bench.notifier_watch``) reads every operator's chat from the
sandbox every 100 ms (``GET /_sandbox/bots/{id}/chats/{chat}/messages``, edits included) as the
operator would see it.
The k-th new lead is visible in a chat once the headers of its lead messages count k ("12 new
leads · …"); an account's or API alert's event once its line or message is there (a repeat of a
firing alert only bumps its "×N" counter, which is not waited for: it tells nothing new).
Latency is visible − published per event and chat (p50/p95/max, and by kind); ``ours`` is the
time from the storm's first event until the last one is visible in every chat. Lost: pairs still
invisible ``--drain`` (60) seconds after the storm; the courier's table then tells late from
dropped (``still_queued_messages`` will go out, ``failed_messages`` will not). 429s: the
sandbox's count of refusals for the bot; unretried: alert messages whose last call got a 429 and
never went through afterwards.

Baseline, same run, same sandbox and limits: a second bot that sends one message per event to
each operator as fast as the limits allow (a plain aiogram sender, one message a second per chat,
``TelegramRetryAfter`` waited out), fed the same events at the same pace, for ``--window`` (15)
seconds. Its rate per chat gives the time it would need for every event
("baseline_extrapolated": true); its latencies are those of the events it delivered in the
window, measured when ``sendMessage`` returned (no polling: this favours it).

CPU per 1,000 events during the storm and its drain: this process (``time.process_time``) split
into the load generator (the publishing calls) and the notifier (the rest: intake, courier,
aiogram, the outbox relay); PostgreSQL (the whole server, from /proc, as ``bench.panel``); the
sandbox process (/proc/<pid>/stat; it also answers the watcher's reads); the watcher process
(its own count, start-up imports included).

Run: ``python -m bench.notifier [--events 1000] [--seconds 10] [--window 15]`` (PostgreSQL at
COOLTHING_BENCH_DATABASE_URL, else database coolthing_bench on 127.0.0.1). ``--profile FILE``
writes a cProfile of this process during the storm. The last line is one JSON object;
``goal_met`` when every event was visible within 5 s, none was lost and no 429 went unretried.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from subprocess import PIPE
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter
from sqlalchemy import func, select

from bench.notifier_setup import (
    Notifier,
    SandboxApi,
    SandboxProcess,
    fresh_schema,
    link_operators,
    log,
    seed,
    start,
    wait_for,
)
from bench.notifier_storm import Planned, Visibility, paced, plan
from bench.panel import postgres_cpu
from core.db import Database
from core.db.notifier_models import AlertMessage
from core.events import Event

DB_URL = os.environ.get(
    "COOLTHING_BENCH_DATABASE_URL",
    "postgresql+asyncpg://coolthing:coolthing@127.0.0.1:5432/coolthing_bench",
)
CHATS = 5
GOAL_MS = 5000.0
ALERT_METHODS = ("sendMessage", "editMessageText")


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


@dataclass
class Cpu:
    """CPU seconds of each part, read at the start and at the end of a phase."""

    process: float
    postgres: float
    sandbox: float

    @classmethod
    def now(cls, sandbox: SandboxProcess) -> Cpu:
        return cls(time.process_time(), postgres_cpu(), sandbox.cpu())

    def spent(self, sandbox: SandboxProcess) -> Cpu:
        end = Cpu.now(sandbox)
        return Cpu(
            end.process - self.process, end.postgres - self.postgres, end.sandbox - self.sandbox
        )


# ---- the notifier under the storm ---------------------------------------------------------------


@dataclass
class StormResult:
    published: list[float]
    visibility: Visibility
    load_cpu: float
    watcher_cpu: float
    cpu: Cpu
    calls: dict[str, int]
    refused: int
    outcomes: dict[str, int]


def _expected(planned: list[Planned]) -> dict[str, int]:
    """What each chat shows once every event is visible: the highest ordinal of each key."""
    expected: dict[str, int] = {}
    for event in planned:
        expected[event.key] = max(expected.get(event.key, 0), event.ordinal)
    return expected


class Watcher:
    """``bench.notifier_watch`` in its own process, reading the chats while the storm runs;
    its lines are read as they come, so a full pipe never stalls it."""

    def __init__(self, proc: asyncio.subprocess.Process, stdout: asyncio.StreamReader) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []
        self._reading = asyncio.create_task(self._read(stdout))

    @classmethod
    async def start(cls, config: dict[str, Any]) -> Watcher:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.notifier_watch", stdin=PIPE, stdout=PIPE
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(config).encode() + b"\n")
        await proc.stdin.drain()
        proc.stdin.close()
        ready = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        if not ready.get("ready"):
            raise RuntimeError(f"the watcher did not start: {ready}")
        return cls(proc, proc.stdout)

    async def _read(self, stdout: asyncio.StreamReader) -> None:
        async for raw in stdout:
            self.lines.append(json.loads(raw))

    async def done(self) -> None:
        """Every chat shows every event, or the drain is over."""
        await self._reading
        if await self.proc.wait() != 0:
            raise RuntimeError(f"the watcher failed (exit {self.proc.returncode})")

    def replay(self, visibility: Visibility) -> float:
        """What the watcher saw, into ``visibility``; returns the watcher's CPU seconds."""
        cpu = 0.0
        for line in self.lines:
            if "cpu" in line:
                cpu = float(line["cpu"])
            else:
                visibility.update(int(line["chat"]), Counter(line["seen"]), float(line["t"]))
        return cpu


async def storm(
    notifier: Notifier,
    api: SandboxApi,
    sandbox: SandboxProcess,
    chats: list[int],
    planned: list[Planned],
    args: argparse.Namespace,
) -> StormResult:
    before = await api.bot_info(notifier.bot_id)
    published: list[float] = []
    visibility = Visibility(planned, chats, published)
    config = {
        "url": sandbox.url,
        "bot_id": notifier.bot_id,
        "chats": chats,
        "expected": _expected(planned),
        "seconds": args.seconds + args.drain,
        "interval": 0.1,
    }
    watcher = await Watcher.start(config)
    cpu = Cpu.now(sandbox)
    bus = notifier.platform.bus

    async def publish(event: Planned) -> None:
        published.append(time.monotonic())
        await bus.publish(Event.of(event.payload))

    profile = cProfile.Profile() if args.profile else None
    if profile:
        profile.enable()
    _, load_cpu = await paced(planned, args.seconds, publish)
    await watcher.done()
    if profile:
        profile.disable()
        profile.dump_stats(args.profile)
    spent = cpu.spent(sandbox)
    watcher_cpu = watcher.replay(visibility)
    after = await api.bot_info(notifier.bot_id)
    calls = {m: after["calls"].get(m, 0) - before["calls"].get(m, 0) for m in ALERT_METHODS}
    return StormResult(
        published,
        visibility,
        load_cpu,
        watcher_cpu,
        spent,
        calls,
        after["refused"] - before["refused"],
        await _outcomes(notifier.platform.db),
    )


async def _outcomes(db: Database) -> dict[str, int]:
    """The courier's own account at the end: messages whose last call got a 429 and that never
    went through since (a success clears ``last_error``), messages given up on (``failed``), and
    messages still waiting to be sent or edited (late, not lost)."""
    waiting = (AlertMessage.state.in_(("pending", "sending"))) | AlertMessage.dirty.is_(True)
    async with db.session() as session:
        counts = {
            "unretried_429": AlertMessage.last_error == "429",
            "failed_messages": AlertMessage.state == "failed",
            "still_queued_messages": waiting,
        }
        return {
            name: int(
                await session.scalar(select(func.count()).select_from(AlertMessage).where(where))
                or 0
            )
            for name, where in counts.items()
        }


# ---- the baseline: one message per event --------------------------------------------------------


@dataclass
class BaselineResult:
    delivered: int  # messages that reached a chat within the window, all chats
    latencies: list[float]
    calls: int
    refused: int
    window: float

    def per_chat_rate(self, chats: int) -> float:
        return self.delivered / chats / self.window


async def baseline(
    api: SandboxApi, url: str, chats: list[int], planned: list[Planned], args: argparse.Namespace
) -> BaselineResult:
    """One message per event to every chat, one a second per chat, until the window closes."""
    made = await api.register_bot("naive_bench_bot")
    for chat in chats:  # a bot may write only to people who started it
        await api.write(int(made["id"]), chat, f"Operator{chat}", "/start")
    server = TelegramAPIServer.from_base(url)
    bot = Bot(made["token"], session=AiohttpSession(api=server))
    queues: dict[int, asyncio.Queue[tuple[Planned, float]]] = {c: asyncio.Queue() for c in chats}
    latencies: list[float] = []

    async def publish(event: Planned) -> None:
        for queue in queues.values():
            queue.put_nowait((event, time.monotonic()))

    async def sender(chat: int) -> None:
        last = 0.0
        while True:
            event, at = await queues[chat].get()
            while True:
                await asyncio.sleep(max(0.0, last + 1.0 - time.monotonic()))
                last = time.monotonic()
                try:
                    await bot.send_message(chat, event.text)
                    break
                except TelegramRetryAfter as exc:
                    await asyncio.sleep(exc.retry_after)
            latencies.append(time.monotonic() - at)

    senders = [asyncio.create_task(sender(chat)) for chat in chats]
    feeding = asyncio.create_task(paced(planned, args.seconds, publish))
    await asyncio.sleep(args.window)
    for task in [*senders, feeding]:
        task.cancel()
    await asyncio.gather(*senders, feeding, return_exceptions=True)
    await bot.session.close()
    info = await api.bot_info(int(made["id"]))
    return BaselineResult(
        len(latencies), latencies, info["calls"].get("sendMessage", 0), info["refused"], args.window
    )


# ---- the run ------------------------------------------------------------------------------------


def summary(
    events: int, ours: StormResult, base: BaselineResult, chats: int, storm_s: float
) -> dict[str, Any]:
    visibility = ours.visibility
    start = ours.published[0]
    latencies = [at - ours.published[n] for (n, _), at in visibility.at.items()]
    by_kind: dict[str, list[float]] = {}
    for (n, _), at in visibility.at.items():
        kind = visibility.planned[n].key.split(":", 1)[0]  # leads, account, alert
        by_kind.setdefault(kind, []).append(at - ours.published[n])
    lost = visibility.missing(len(ours.published))
    last = max(visibility.at.values(), default=start)
    all_visible = round(last - start, 2)
    rate = base.per_chat_rate(chats)
    extrapolated = round(events / rate, 1) if rate else float("inf")
    per_1000 = 1000 / events * 1000  # ms per 1,000 events from seconds
    ours_pct = percentiles(latencies)
    notifier_cpu = ours.cpu.process - ours.load_cpu
    return {
        "bench": "notifier",
        "ours": all_visible,
        "baseline": extrapolated,
        "ratio": round(extrapolated / all_visible, 1) if all_visible else 0.0,
        "unit": "s until every event is visible",
        "events": events,
        "chats": chats,
        "storm_seconds": storm_s,
        **ours_pct,
        "by_kind": {kind: percentiles(values) for kind, values in sorted(by_kind.items())},
        "bot_api_calls": sum(ours.calls.values()),
        "bot_api_calls_by_method": ours.calls,
        "refused_429": ours.refused,
        **ours.outcomes,
        "lost": lost,
        "cpu_ms_per_1000_events": {
            "notifier": round(notifier_cpu * per_1000),
            "load_generator": round(ours.load_cpu * per_1000),
            "watcher": round(ours.watcher_cpu * per_1000),
            "postgres": round(ours.cpu.postgres * per_1000),
            "sandbox": round(ours.cpu.sandbox * per_1000),
        },
        "baseline_extrapolated": True,
        "baseline_window_seconds": base.window,
        "baseline_delivered": base.delivered,
        "baseline_messages_per_chat_per_s": round(rate, 2),
        "baseline_bot_api_calls": base.calls,
        "baseline_refused_429": base.refused,
        **{f"baseline_{k}": v for k, v in percentiles(base.latencies).items()},
        "goal_met": bool(
            latencies
            and ours_pct["max_ms"] <= GOAL_MS
            and lost == 0
            and ours.outcomes["unretried_429"] == 0
        ),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    logs = Path(tempfile.mkdtemp(prefix="bench-notifier-"))
    sandbox = SandboxProcess(logs)
    db = Database(DB_URL)
    notifier: Notifier | None = None
    try:
        async with aiohttp.ClientSession(base_url=sandbox.url) as http:
            api = SandboxApi(http)
            await wait_for(lambda: api.call("/_sandbox/chats"), "the sandbox to answer", 90)
            log("fresh schema, migrations, campaigns, leads, accounts")
            await fresh_schema(db)
            seeded = await seed(db, args.events)
            planned = plan(args.events, seeded)
            notifier = await start(db, api, sandbox.url)
            chats = await link_operators(notifier, api, CHATS)
            await asyncio.sleep(3)  # the link replies' share of the chats' budget comes back
            log(f"storm: {args.events} events over {args.seconds:g} s to {CHATS} operators")
            ours = await storm(notifier, api, sandbox, chats, planned, args)
            await notifier.stop()
            notifier = None
            log(f"baseline: one message per event for {args.window:g} s")
            base = await baseline(api, sandbox.url, chats, planned, args)
        return summary(args.events, ours, base, CHATS, args.seconds)
    finally:
        if notifier is not None:
            await notifier.stop()
        await db.close()
        sandbox.stop()
        log(f"sandbox log: {sandbox.log_path}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.notifier", description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0, help="the storm's length")
    parser.add_argument("--window", type=float, default=15.0, help="the baseline's time")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds after the storm")
    parser.add_argument("--profile", help="cProfile of this process during the storm, to FILE")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), ensure_ascii=False))


if __name__ == "__main__":
    main()
