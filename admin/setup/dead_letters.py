"""Dealing with the outbox's dead letters: retry one (publish it now through the bus, judged as
the relay judges a publish) or discard it. Both are audited.

A retried row that goes out is marked published, like any row the relay published, and leaves
the list; one the bus refuses again stays dead with the new reason and one more try counted. A
row whose body is not a valid event cannot be fixed by retrying: it can only be discarded."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.setup.keyword_sets import SetupError
from core.access import Actor
from core.audit import record
from core.bus import Bus
from core.db import Database
from core.db.models import OutboxMessage
from core.outbox_failures import Outcome, decode_row, judge


async def _dead_row(session: AsyncSession, letter_id: int) -> OutboxMessage:
    row = await session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.id == letter_id, OutboxMessage.dead_at.is_not(None))
        .with_for_update()  # two admins pressing Retry publish it once
    )
    if row is None:
        raise SetupError(f"dead letter {letter_id} does not exist", missing=True)
    return row


async def retry_dead_letter(db: Database, bus: Bus, actor: Actor, letter_id: int) -> None:
    """Publish the row's event now; ``SetupError`` when it cannot be or the bus refuses it (the
    refusal is kept on the row)."""
    refused: str | None = None
    async with db.transaction() as session:
        row = await _dead_row(session, letter_id)
        event = decode_row(row.body)
        if isinstance(event, Outcome):
            raise SetupError(
                f"retrying cannot fix it ({event.reason}): discard it instead", field="retry"
            )
        try:
            await bus.publish(event, routing_key=row.routing_key)
        except Exception as exc:  # judged like the relay's publish: the reason, never the body
            refused = judge(exc).reason or type(exc).__name__
            row.attempts += 1
            row.last_error = refused
            record(
                session,
                "dead_letter_retry_failed",
                actor=actor,
                target=row.routing_key,
                reason=refused,
                letter=row.id,
                event_id=row.event_id,
            )
        else:
            row.dead_at = None
            row.published_at = datetime.now(UTC)
            record(
                session,
                "dead_letter_retried",
                actor=actor,
                target=row.routing_key,
                letter=row.id,
                event_id=row.event_id,
            )
    if refused is not None:  # raised after the commit, so the new reason is kept
        raise SetupError(f"the bus refused it again: {refused}", field="retry")


async def discard_dead_letter(session: AsyncSession, actor: Actor, letter_id: int) -> None:
    row = await _dead_row(session, letter_id)
    record(
        session,
        "dead_letter_discarded",
        actor=actor,
        target=row.routing_key,
        letter=row.id,
        event_id=row.event_id,
        reason=row.last_error or "",
    )
    await session.delete(row)
