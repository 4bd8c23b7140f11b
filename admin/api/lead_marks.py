"""Operators teach a campaign's second stage: "is a lead" / "not a lead" on a lead (carried out by
the parser, ``parser.lead_marks``, as the signed-in user), the examples kept from those marks,
and the models retrained from them with how each scored."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.access.deps import Operator, Viewer
from admin.api.deps import BusDep, PageDep, SessionDep
from admin.api.fields import DB_INT_MAX
from admin.api.schemas import ErrorRead, Page, Timestamp
from core.db.intent_models import CampaignIntentModel, IntentExample
from core.db.models import Campaign
from core.intent import IntentVerdict
from core.lead_commands import LeadCommand, LeadMark, send_lead_command

router = APIRouter()
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
_STATUS = {"missing": 404, "unavailable": 503}
MARK_REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorRead, "description": "no such lead"},
    503: {"model": ErrorRead, "description": "the parser service did not answer; nothing done"},
}
NO_CAMPAIGN: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorRead, "description": "no such campaign"}
}


class MarkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mark: LeadMark = Field(description='"lead": is a lead; "not_lead": not a lead')


class MarkRead(BaseModel):
    lead_id: int
    intent: IntentVerdict | None = Field(description="the lead's verdict now")
    written_to: bool = Field(description="the mark sent the lead on to the manager, which writes")


class IntentModelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: Timestamp
    f1: float = Field(description="the retrained model's F1 on the held-back examples")
    previous_f1: float = Field(description="the model in use then, on the same examples")
    examples: int = Field(description="operators' examples it learned from")
    held_out: int = Field(description="held-back examples it was judged on")
    in_use: bool
    note: str


class IntentExampleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    lead_id: int | None
    text: str
    bio: str | None
    label: bool = Field(description="true: is a lead; false: not a lead")
    actor: str = Field(description="who marked it")
    created_at: Timestamp


@router.post(
    "/leads/{lead_id}/mark", response_model=MarkRead, responses=MARK_REFUSALS, tags=["leads"]
)
async def mark_lead(actor: Operator, bus: BusDep, lead_id: Id, body: MarkBody) -> MarkRead:
    """Say whether this person is a lead: kept as the campaign's example (its model learns
    from them), and "is a lead" on a lead nobody wrote to yet has the manager write to them."""
    result = await send_lead_command(bus, LeadCommand(lead_id=lead_id, mark=body.mark, actor=actor))
    if result.outcome != "done":
        raise HTTPException(_STATUS[result.outcome], result.detail)
    return MarkRead(lead_id=lead_id, intent=result.intent, written_to=result.written_to)


async def _campaign(session: AsyncSession, campaign_id: int) -> None:
    if await session.get(Campaign, campaign_id) is None:
        raise HTTPException(404, f"campaign {campaign_id} does not exist")


@router.get(
    "/campaigns/{campaign_id}/intent-models",
    response_model=Page[IntentModelRead],
    responses=NO_CAMPAIGN,
    tags=["campaigns"],
)
async def list_intent_models(
    _: Viewer, session: SessionDep, page: PageDep, campaign_id: Id
) -> Page[IntentModelRead]:
    """The campaign's retrained models, newest first: how each scored against the model in use
    then, and whether it was used."""
    await _campaign(session, campaign_id)
    where = CampaignIntentModel.campaign_id == campaign_id
    total = await session.scalar(select(func.count()).where(where))
    rows = await session.scalars(
        select(CampaignIntentModel)
        .where(where)
        .order_by(CampaignIntentModel.id.desc())
        .limit(page.limit)
        .offset(page.offset)
    )
    items = [IntentModelRead.model_validate(row) for row in rows]
    return Page(items=items, total=total or 0, limit=page.limit, offset=page.offset)


@router.get(
    "/campaigns/{campaign_id}/intent-examples",
    response_model=Page[IntentExampleRead],
    responses=NO_CAMPAIGN,
    tags=["campaigns"],
)
async def list_intent_examples(
    _: Viewer, session: SessionDep, page: PageDep, campaign_id: Id
) -> Page[IntentExampleRead]:
    """The messages operators marked for the campaign, newest mark first."""
    await _campaign(session, campaign_id)
    where = IntentExample.campaign_id == campaign_id
    total = await session.scalar(select(func.count()).where(where))
    rows = await session.scalars(
        select(IntentExample)
        .where(where)
        .order_by(IntentExample.created_at.desc(), IntentExample.id.desc())
        .limit(page.limit)
        .offset(page.offset)
    )
    items = [IntentExampleRead.model_validate(row) for row in rows]
    return Page(items=items, total=total or 0, limit=page.limit, offset=page.offset)
