"""One measured run of a pipeline: post at the offered rate, wait for every expected lead hit,
and score throughput and latency (``lead_hits.seen_at`` minus the message's ``date_ts``)."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from bench.pipeline_cpu import Snapshot, Window, window_cpu
from bench.pipeline_stack import wait_for
from bench.pipeline_world import Setup
from core.db import Database
from core.db.models import LeadHit
from parser.matcher import Matcher

DRAIN_TIMEOUT = 30.0  # seconds after the last post for every expected lead hit to exist
CPU_POLL = 0.5  # seconds between CPU snapshots inside a window


@dataclass(frozen=True)
class Measurement:
    messages: int
    leads: int  # expected lead hits: matching messages × campaigns they match
    missing: int
    extra: int
    post_seconds: float  # first post → last post
    span: float  # first post → last lead hit
    latencies_ms: list[float]
    cpu: Window | None = None  # each process class's CPU over the offered-load window

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


async def measure(
    setup: Setup,
    db: Database,
    rate: float,
    seconds: float,
    snapshot: Callable[[], Snapshot] | None = None,
) -> Measurement:
    """Post ``rate × seconds`` messages, wait for their lead hits, and score them; with a
    ``snapshot``, the CPU of each process class from the first post to the last lead hit."""
    chat_ids = list(setup.chat_ids.values())
    since = await setup.sandbox.ends(chat_ids)
    count = max(int(rate * seconds), 1)
    started, first = time.monotonic(), snapshot() if snapshot else None
    seen: Snapshot = {}
    polling = asyncio.create_task(poll_cpu(snapshot, seen)) if snapshot else None
    try:
        await setup.sandbox.post_audience(rate, count, chat_ids)
        posted = [m for c in chat_ids for m in await setup.sandbox.messages(c, since[c])]
        expected = expected_hits(setup.oracle, posted)
        await wait_for_hits(db, since, sum(expected.values()))
    finally:
        if polling is not None:
            polling.cancel()
            await asyncio.gather(polling, return_exceptions=True)
    cpu = None
    if snapshot and first is not None:
        seen.update(snapshot())
        cpu = Window(window_cpu(first, seen), time.monotonic() - started, len(posted))
    hits = await hits_after(db, since)
    result = score(posted, expected, hits)
    return dataclasses.replace(result, cpu=cpu)


async def poll_cpu(snapshot: Callable[[], Snapshot], seen: Snapshot) -> None:
    """Keep each process's latest CPU: one that exits inside the window (a database connection
    beyond the pool) still counts up to its last poll."""
    while True:
        seen.update(snapshot())
        await asyncio.sleep(CPU_POLL)


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
