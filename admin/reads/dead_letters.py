"""Dead letters of the outbox as people read them: the rows the relay gave up on, newest first,
with the reason, the tries, the routing key and what the event was about — its name and its
payload in short ``key: value`` form (secret-looking fields masked, long values clipped)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.reads.paging import PAGE_SIZE, capped_count
from core.db.models import OutboxMessage
from core.outbox_failures import Outcome, decode_row

VALUE_LIMIT = 120  # characters of one payload value shown
FIELDS_SHOWN = 8
_SECRET_WORDS = ("session", "password", "token", "secret", "key", "proxy", "hash")


@dataclass(frozen=True)
class DeadLetterRow:
    id: int
    event_id: str
    routing_key: str
    attempts: int
    reason: str
    dead_at: datetime | None
    created_at: datetime
    event: str  # the event's name, or "" when the body is not an event
    occurred_at: datetime | None
    fields: list[tuple[str, str]]  # the payload, shortened
    problem: str  # why the body is not an event ("" when it is one)


@dataclass(frozen=True)
class DeadLetterPage:
    rows: list[DeadLetterRow]
    total: int
    more: bool  # the total is a lower bound ("1000+")
    offset: int


async def dead_letter_page(session: AsyncSession, offset: int = 0) -> DeadLetterPage:
    query = select(OutboxMessage).where(OutboxMessage.dead_at.is_not(None))
    total, more = await capped_count(session, query, offset)
    found = await session.scalars(
        query.order_by(OutboxMessage.dead_at.desc(), OutboxMessage.id.desc())
        .limit(PAGE_SIZE)
        .offset(offset)
    )
    return DeadLetterPage([describe(row) for row in found], total, more, offset)


def describe(row: OutboxMessage) -> DeadLetterRow:
    """The row with its body read the way the relay reads it (``decode_row``)."""
    event = decode_row(row.body)
    return DeadLetterRow(
        id=row.id,
        event_id=row.event_id,
        routing_key=row.routing_key,
        attempts=row.attempts,
        reason=row.last_error or "",
        dead_at=row.dead_at,
        created_at=row.created_at,
        event="" if isinstance(event, Outcome) else event.name,
        occurred_at=None if isinstance(event, Outcome) else event.occurred_at,
        fields=[] if isinstance(event, Outcome) else summary(event.payload),
        problem=(event.reason or "") if isinstance(event, Outcome) else "",
    )


def summary(payload: dict[str, object]) -> list[tuple[str, str]]:
    shown = []
    for name, value in list(payload.items())[:FIELDS_SHOWN]:
        if any(word in name.lower() for word in _SECRET_WORDS):
            shown.append((name, "•••"))
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        shown.append((name, text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"))
    if len(payload) > FIELDS_SHOWN:
        shown.append(("…", f"{len(payload) - FIELDS_SHOWN} more"))
    return shown
