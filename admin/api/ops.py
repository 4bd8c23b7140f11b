"""Operational views: dead letters (messages that gave up, with the reason): the bus's, and the
outbox rows the relay could not publish (queue ``outbox``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import select

from admin.access.deps import Admin
from admin.api.deps import BusDep, SessionDep
from admin.api.schemas import DeadLetterRead
from core.db.models import Account
from core.outbox import OUTBOX_QUEUE
from core.outbox import dead_letters as outbox_dead_letters
from core.topology import SERVICE_QUEUES, account_queue

router = APIRouter(tags=["operations"])
QUEUE = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"  # our queue names; a broker takes 255 bytes at most


@router.get(
    "/dead-letters",
    response_model=list[DeadLetterRead],
    responses={503: {"description": "the message broker did not answer"}},
)
async def dead_letters(
    _: Admin,
    bus: BusDep,
    session: SessionDep,
    queue: Annotated[
        str | None,
        Query(min_length=1, max_length=200, pattern=QUEUE, description="a queue, as listed"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeadLetterRead]:
    """Dead letters of one queue, or of every service and account queue and of the outbox when
    none is named."""
    out: list[DeadLetterRead] = []
    if queue in (None, OUTBOX_QUEUE):
        letters = await outbox_dead_letters(session, limit=limit)
        out += [DeadLetterRead.model_validate(d.model_dump()) for d in letters]
    if queue == OUTBOX_QUEUE:
        return out  # in the database: answered even while the broker is down
    if queue:
        queues = [queue]
    else:
        account_ids = (await session.scalars(select(Account.id).order_by(Account.id))).all()
        queues = [*SERVICE_QUEUES, *(account_queue(a) for a in account_ids)]
    try:
        for name in queues:
            letters = await bus.dead_letters(name, limit=limit)
            out += [DeadLetterRead.model_validate(d.model_dump()) for d in letters]
    except (ConnectionError, RuntimeError) as exc:  # the broker is down or reconnecting
        raise HTTPException(503, f"the message broker did not answer: {exc}") from None
    return out
