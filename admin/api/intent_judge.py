"""What a campaign's LLM intent judge did and cost, per UTC day (read-only; the parser writes
``intent_judge_daily_counts``, see ``parser.intent_judge``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel
from sqlalchemy import select

from admin.access.deps import Viewer
from admin.api.deps import SessionDep
from admin.api.fields import DB_INT_MAX
from admin.api.schemas import ErrorRead
from core.db.judge_models import IntentJudgeDailyCount
from core.db.models import Campaign

router = APIRouter(tags=["campaigns"])


class IntentJudgeDay(BaseModel):
    """One UTC day: keyword hits the judge was asked about (``calls``), its answers, the hits
    where the model's verdict stood (``fallbacks``: no usable answer, or the message tried to
    instruct the model and was not sent), and the tokens and cost (USD) of the calls."""

    day: date
    calls: int
    leads: int
    not_leads: int
    fallbacks: int
    prompt_tokens: int
    completion_tokens: int
    cost: float


class IntentJudgeUsage(BaseModel):
    campaign_id: int
    days: list[IntentJudgeDay]  # newest first; days without a call are left out
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost: float


@router.get(
    "/campaigns/{campaign_id}/intent-judge",
    response_model=IntentJudgeUsage,
    responses={404: {"model": ErrorRead}},
)
async def intent_judge_usage(
    _: Viewer,
    session: SessionDep,
    campaign_id: Annotated[int, Path(ge=1, le=DB_INT_MAX)],
    days: Annotated[int, Query(ge=1, le=366, description="the last N UTC days, today too")] = 30,
) -> IntentJudgeUsage:
    """The LLM judge's calls, verdicts, tokens and cost for the campaign, per day."""
    if await session.get(Campaign, campaign_id) is None:
        raise HTTPException(404, f"campaign {campaign_id} not found")
    since = datetime.now(UTC).date() - timedelta(days=days - 1)
    rows = await session.scalars(
        select(IntentJudgeDailyCount)
        .where(IntentJudgeDailyCount.campaign_id == campaign_id)
        .where(IntentJudgeDailyCount.day >= since)
        .order_by(IntentJudgeDailyCount.day.desc())
    )
    per_day = [
        IntentJudgeDay(
            day=row.day,
            calls=row.calls,
            leads=row.leads,
            not_leads=row.not_leads,
            fallbacks=row.fallbacks,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            cost=round(row.cost, 6),
        )
        for row in rows
    ]
    return IntentJudgeUsage(
        campaign_id=campaign_id,
        days=per_day,
        calls=sum(d.calls for d in per_day),
        prompt_tokens=sum(d.prompt_tokens for d in per_day),
        completion_tokens=sum(d.completion_tokens for d in per_day),
        cost=round(sum(d.cost for d in per_day), 6),
    )
