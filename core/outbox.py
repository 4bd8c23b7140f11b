"""Transactional outbox: events are written in the transaction of the change they announce, and a
relay publishes them after commit. A crash between the two loses nothing; consumers deduplicate by
event id, so the rare republish after a crash is harmless.

The relay keeps a failure with its row (docs/architecture.md, Outbox): a malformed row is dead at
once, a row whose publish fails is tried again on later passes and dead after ``max_attempts``,
and the rows around it go on. A broker outage pauses the relay: the two oldest rows at a time,
with backoff, until the broker answers; then the backlog drains in order. Logs name rows, event
ids, routing keys and reasons, never bodies."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence, Set
from datetime import UTC, datetime, timedelta
from typing import cast

from prometheus_client import Counter as Metric
from sqlalchemy import ColumnElement, Row, Table, and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.bus import Bus, UnroutableError
from core.bus.base import DeadLetter
from core.db import Database
from core.db.models import OutboxMessage
from core.events import Event
from core.outbox_failures import (
    PUBLISHED,
    Backoff,
    Outcome,
    Verdict,
    dead_after,
    decode_row,
    describe,
    judge,
    settle,
)
from core.waiting import wait_at_most

log = logging.getLogger(__name__)
UNROUTABLE = Metric(
    "coolthing_outbox_unroutable_total", "Outbox events no queue was bound for", ["event"]
)
DEAD = Metric("coolthing_outbox_dead_total", "Outbox rows moved aside as dead letters")


OUTBOX = cast(Table, OutboxMessage.__table__)
PROBE = 2  # rows per try during a broker outage: two, so one bad oldest row cannot hold it
OUTBOX_QUEUE = "outbox"  # what the dead-letter view calls the relay's dead rows
Claimed = Row[int, str, str, str, int]  # id, event_id, routing_key, body, attempts


async def add_to_outbox(
    session: AsyncSession, event: Event, *, routing_key: str | None = None
) -> None:
    """Queue ``event`` for publishing once the caller's transaction commits."""
    await add_many_to_outbox(session, [(event, routing_key)])


async def add_many_to_outbox(
    session: AsyncSession, events: Sequence[tuple[Event, str | None]]
) -> None:
    """Queue events (each with its routing key, or None for its name) in one statement."""
    rows = [
        {
            "event_id": str(event.id),
            "routing_key": routing_key or event.name,
            "body": event.model_dump_json(),
        }
        for event, routing_key in events
    ]
    if rows:
        await session.execute(insert(OUTBOX), rows)


async def dead_letters(session: AsyncSession, *, limit: int = 100) -> list[DeadLetter]:
    """Rows the relay moved aside, oldest first, as dead letters of the queue named ``outbox``."""
    rows = await session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.dead_at.is_not(None))
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    return [
        DeadLetter(
            queue=OUTBOX_QUEUE,
            routing_key=row.routing_key,
            body=row.body,
            reason=row.last_error or "",
            deliveries=row.attempts,
            dead_at=row.dead_at,
        )
        for row in rows
        if row.dead_at is not None
    ]


def pending() -> ColumnElement[bool]:
    """Rows still to publish: neither published nor dead."""
    return and_(OutboxMessage.published_at.is_(None), OutboxMessage.dead_at.is_(None))


class OutboxRelay:
    """Publishes committed outbox rows in order. ``poke()`` after a commit publishes at once;
    a slow poll catches rows left by a process that died between commit and publish. Each pass
    claims at most ``batch`` rows and commits their outcomes before the next, so a failure never
    republishes rows already published. Published rows are deleted after ``retention``."""

    def __init__(
        self,
        db: Database,
        bus: Bus,
        *,
        batch: int = 100,
        poll: float = 1.0,
        coalesce: float = 0.02,
        max_attempts: int = 5,
        retention: timedelta = timedelta(days=7),
        prune_every: float = 3600.0,
        backoff: Backoff | None = None,
    ) -> None:
        self._db = db
        self._bus = bus
        self._batch = batch
        self._poll = poll
        self._coalesce = coalesce
        self._max_attempts = max_attempts
        self._retention = retention
        self._prune_every = prune_every
        self._outage = backoff or Backoff()
        self._db_backoff = Backoff()
        self._pruned_at: float | None = None
        self._unrouted: set[str] = set()  # said once at INFO per event name, then DEBUG
        self._wake = asyncio.Event()
        self._broker_down = False  # the last pass met a broker outage
        self._failed: set[int] = set()  # rows of the last pass that failed and wait for a retry

    def poke(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self.drain()
                await self._prune_when_due()
                self._db_backoff.reset()
            except Exception as exc:  # a database outage must not kill the relay
                delay = self._db_backoff.next()
                cause = getattr(exc, "orig", None) or exc  # the driver's words, no statement
                log.warning("outbox relay: %s; trying again in %.1fs", describe(cause), delay)
                await asyncio.sleep(delay)
                continue
            if await wait_at_most(self._wake.wait(), self._poll):
                # Let commits that land together share one select/publish/update cycle.
                await asyncio.sleep(self._coalesce)
            self._wake.clear()

    async def drain(self) -> None:
        """Publish until nothing is pending. A row that failed waits for the next drain (its next
        try) instead of holding back the rows behind it; during a broker outage ``PROBE`` rows are
        tried at a time, with growing pauses, until the broker answers."""
        tried: set[int] = set()
        while True:
            size = PROBE if self._outage.active else self._batch
            claimed = await self.publish_pending(limit=size, skip=tried)
            if self._broker_down:
                tried.clear()  # after the outage, the oldest rows first
                delay = self._outage.next()
                level = logging.WARNING if self._outage.failures == 1 else logging.DEBUG
                log.log(level, "outbox relay: broker unavailable, next try in %.1fs", delay)
                await asyncio.sleep(delay)
                continue
            if self._outage.active:
                log.warning("outbox relay: broker back after %d tries", self._outage.failures)
                self._outage.reset()
            if claimed < size:
                return
            tried |= self._failed

    async def publish_pending(
        self, *, limit: int | None = None, skip: Set[int] = frozenset()
    ) -> int:
        """Publish up to one batch of pending rows, in order, and commit every row's outcome
        together; returns how many rows were claimed."""
        self._broker_down, self._failed = False, set()
        async with self._db.transaction() as session:
            query = (
                select(
                    OutboxMessage.id,
                    OutboxMessage.event_id,
                    OutboxMessage.routing_key,
                    OutboxMessage.body,
                    OutboxMessage.attempts,
                )
                .where(pending())
                .order_by(OutboxMessage.id)
                .limit(limit or self._batch)
            )
            if skip:
                query = query.where(OutboxMessage.id.not_in(skip))
            if not self._db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = (await session.execute(query)).all()
            if not rows:
                return 0
            outcomes = await asyncio.gather(*(self._publish(r.routing_key, r.body) for r in rows))
            await self._record(session, rows, outcomes)
        return len(rows)

    async def _publish(self, routing_key: str, body: str) -> Outcome:
        """Publish one row's event; never raises (but for cancellation): says what happened."""
        event = decode_row(body)
        if isinstance(event, Outcome):
            return event
        try:
            await self._bus.publish(event, routing_key=routing_key)
        except UnroutableError:
            # Nobody subscribes yet (no manager running, an account worker never started: it reads
            # its chats from the database when it starts). Counted and logged, not retried forever.
            UNROUTABLE.labels(event.name).inc()
            level = logging.DEBUG if event.name in self._unrouted else logging.INFO
            self._unrouted.add(event.name)
            log.log(level, "no queue for %s (%s); not delivered", routing_key, event.name)
        except Exception as exc:  # judged per row: one row's failure must not stop the others
            return judge(exc)
        return PUBLISHED

    async def _record(
        self, session: AsyncSession, rows: Sequence[Claimed], outcomes: Sequence[Outcome]
    ) -> None:
        now = datetime.now(UTC)
        done = [r.id for r, o in zip(rows, outcomes, strict=True) if o is PUBLISHED]
        if done:
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(done)).values(published_at=now)
            )
        recorded, self._broker_down = settle(outcomes)
        if log.isEnabledFor(logging.DEBUG):
            tally = Counter(o.verdict.value for o in outcomes)
            log.debug("outbox pass of %d rows from %d: %s", len(rows), rows[0].id, dict(tally))
        for row, outcome in zip(rows, recorded, strict=True):
            if outcome.verdict in (Verdict.MALFORMED, Verdict.FAILED):
                await self._record_failure(session, row, outcome, now)

    async def _record_failure(
        self, session: AsyncSession, row: Claimed, outcome: Outcome, now: datetime
    ) -> None:
        attempts = row.attempts + 1
        dead = dead_after(attempts, outcome, self._max_attempts)
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id)
            .values(attempts=attempts, last_error=outcome.reason, dead_at=now if dead else None)
        )
        if dead:
            DEAD.inc()
            log.warning(
                "outbox row %d (event %s, %s) dead after %d tries: %s",
                *(row.id, row.event_id, row.routing_key, attempts, outcome.reason),
            )
        else:
            self._failed.add(row.id)
            log.warning(
                "outbox row %d (event %s, %s) failed, try %d of %d: %s",
                *(row.id, row.event_id, row.routing_key, attempts, self._max_attempts),
                outcome.reason,
            )

    async def _prune_when_due(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._pruned_at is None or now - self._pruned_at >= self._prune_every:
            self._pruned_at = now
            if removed := await self.prune():
                log.info("outbox relay: pruned %d rows published before the retention", removed)

    async def prune(self) -> int:
        """Delete rows published longer than the retention ago; returns how many. Dead rows stay
        until someone deals with them."""
        cutoff = datetime.now(UTC) - self._retention
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(OutboxMessage).where(OutboxMessage.published_at < cutoff)
            )
        return cast(int, getattr(result, "rowcount", 0))
