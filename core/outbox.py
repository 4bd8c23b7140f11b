"""Transactional outbox: events are written in the transaction of the change they announce, and a
relay publishes them after commit. A crash between the two loses nothing; consumers deduplicate by
event id, so the rare republish after a crash is harmless."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast

from prometheus_client import Counter
from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.bus import Bus, UnroutableError
from core.db import Database
from core.db.models import OutboxMessage
from core.events import Event

log = logging.getLogger(__name__)
UNROUTABLE = Counter(
    "coolthing_outbox_unroutable_total", "Outbox events no queue was bound for", ["event"]
)


OUTBOX = cast(Table, OutboxMessage.__table__)


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


class OutboxRelay:
    """Publishes committed outbox rows in order. ``poke()`` after a commit publishes at once;
    a slow poll catches rows left by a process that died between commit and publish."""

    def __init__(
        self,
        db: Database,
        bus: Bus,
        *,
        batch: int = 500,
        poll: float = 1.0,
        coalesce: float = 0.02,
    ) -> None:
        self._coalesce = coalesce
        self._unrouted: set[str] = set()  # said once at INFO per event name, then DEBUG
        self._db = db
        self._bus = bus
        self._batch = batch
        self._poll = poll
        self._wake = asyncio.Event()

    def poke(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                while await self.publish_pending() == self._batch:
                    pass
            except Exception:  # a broker or database outage must not kill the relay
                log.exception("outbox relay failed; retrying")
            try:
                await asyncio.wait_for(self._wake.wait(), self._poll)
                # Let commits that land together share one select/publish/update cycle.
                await asyncio.sleep(self._coalesce)
            except TimeoutError:
                pass
            self._wake.clear()

    async def _publish(self, row: OutboxMessage) -> None:
        event = Event.model_validate_json(row.body)
        try:
            await self._bus.publish(event, routing_key=row.routing_key)
        except UnroutableError:
            # Nobody subscribes yet (no manager running, an account worker never started: it reads
            # its chats from the database when it starts). Counted and logged, not retried forever.
            UNROUTABLE.labels(event.name).inc()
            level = logging.DEBUG if event.name in self._unrouted else logging.INFO
            self._unrouted.add(event.name)
            log.log(level, "no queue for %s (%s); not delivered", row.routing_key, event.name)

    async def publish_pending(self) -> int:
        """Publish up to one batch of unpublished rows; returns how many were published."""
        async with self._db.transaction() as session:
            query = (
                select(OutboxMessage)
                .where(OutboxMessage.published_at.is_(None))
                .order_by(OutboxMessage.id)
                .limit(self._batch)
            )
            if not self._db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = (await session.scalars(query)).all()
            if not rows:
                return 0
            results = await asyncio.gather(
                *(self._publish(r) for r in rows), return_exceptions=True
            )
            done = [r.id for r, result in zip(rows, results, strict=True) if result is None]
            if done:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(done))
                    .values(published_at=datetime.now(UTC))
                )
            failure = next((r for r in results if isinstance(r, BaseException)), None)
            if failure is not None:
                raise failure
            return len(rows)
