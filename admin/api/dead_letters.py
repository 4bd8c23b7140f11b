"""The outbox's dead letters by id, to act on: list them (newest first, with what the event was
about), retry one through the bus, discard one. ``GET /dead-letters`` (``admin.api.ops``) lists
every queue's dead letters; these are the outbox's, which the panel can retry or discard."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from admin.access.deps import Admin
from admin.api.deps import BusDep, DbDep, SessionDep
from admin.api.fields import DB_INT_MAX
from admin.api.schemas import Timestamp
from admin.reads.dead_letters import dead_letter_page
from admin.setup.dead_letters import discard_dead_letter, retry_dead_letter
from admin.setup.keyword_sets import SetupError

router = APIRouter(prefix="/dead-letters/outbox", tags=["operations"])
LetterId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such dead letter (retried or discarded already)"},
    409: {"description": "the body is not an event, or the bus refused it again (kept dead)"},
}


class OutboxDeadLetterRead(BaseModel):
    id: int
    event_id: str
    routing_key: str
    event: str = Field(description="the event's name; empty when the body is not an event")
    occurred_at: Timestamp | None
    payload: dict[str, str] = Field(description="the payload shortened, secrets masked")
    reason: str
    attempts: int
    dead_at: Timestamp | None


class OutboxDeadLetterPage(BaseModel):
    items: list[OutboxDeadLetterRead] = Field(description="newest first")
    total: int
    more: bool = Field(description="the total is a lower bound")


@router.get("", response_model=OutboxDeadLetterPage)
async def list_letters(
    _: Admin, session: SessionDep, offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0
) -> OutboxDeadLetterPage:
    page = await dead_letter_page(session, offset)
    return OutboxDeadLetterPage(
        items=[
            OutboxDeadLetterRead(
                id=row.id,
                event_id=row.event_id,
                routing_key=row.routing_key,
                event=row.event,
                occurred_at=row.occurred_at,
                payload=dict(row.fields),
                reason=row.reason or row.problem,
                attempts=row.attempts,
                dead_at=row.dead_at,
            )
            for row in page.rows
        ],
        total=page.total,
        more=page.more,
    )


@router.post("/{letter_id}/retry", status_code=204, responses=REFUSALS)
async def retry(actor: Admin, letter_id: LetterId, db: DbDep, bus: BusDep) -> None:
    """Publish it now; it leaves the list once the bus has it."""
    try:
        await retry_dead_letter(db, bus, actor, letter_id)
    except SetupError as refused:
        raise HTTPException(404 if refused.missing else 409, str(refused)) from None


@router.delete("/{letter_id}", status_code=204, responses=REFUSALS)
async def discard(actor: Admin, letter_id: LetterId, db: DbDep) -> None:
    try:
        async with db.transaction() as session:
            await discard_dead_letter(session, actor, letter_id)
    except SetupError as refused:
        raise HTTPException(404, str(refused)) from None
