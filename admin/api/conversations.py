"""Conversations and drafts waiting for approval, as they are (actions: ``operator_actions``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from sqlalchemy import func, select

from admin.access.deps import Viewer
from admin.api.deps import PageDep, SessionDep
from admin.api.fields import DB_INT_MAX
from admin.api.schemas import (
    ConversationDetail,
    ConversationRead,
    DraftRead,
    MessageRead,
    OutreachUsage,
    Page,
)
from core.db.models import Campaign, Conversation, ConversationMessage

router = APIRouter(tags=["conversations"])
Status = Literal[
    "waiting",
    "drafting",
    "awaiting_approval",
    "active",
    "handoff",
    "opted_out",
    "finished",
    "skipped",
    "rejected",
    "expired",
    "failed",
]


Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
CampaignFilter = Annotated[int | None, Query(ge=1, le=DB_INT_MAX)]


@router.get("/conversations", response_model=Page[ConversationRead])
async def list_conversations(
    _: Viewer,
    session: SessionDep,
    page: PageDep,
    campaign_id: CampaignFilter = None,
    status: Status | None = None,
) -> Page[ConversationRead]:
    """Conversations, the most recently active first."""
    query = select(Conversation)
    if campaign_id is not None:
        query = query.where(Conversation.campaign_id == campaign_id)
    if status is not None:
        query = query.where(Conversation.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(page.limit)
        .offset(page.offset)
    )
    items = [ConversationRead.model_validate(row) for row in rows]
    return Page(items=items, total=total or 0, limit=page.limit, offset=page.offset)


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail)
async def get_conversation(
    _: Viewer, session: SessionDep, conversation_id: Id
) -> ConversationDetail:
    """The whole dialogue: what the lead wrote, what we sent, drafts, and why."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise HTTPException(404, f"conversation {conversation_id} not found")
    rows = await session.scalars(
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation_id)
        .order_by(ConversationMessage.id)
    )
    messages = [MessageRead.model_validate(row) for row in rows]
    head = ConversationRead.model_validate(conversation).model_dump()
    return ConversationDetail(**head, messages=messages)


@router.get("/drafts", response_model=Page[DraftRead])
async def list_drafts(
    _: Viewer,
    session: SessionDep,
    page: PageDep,
    campaign_id: CampaignFilter = None,
) -> Page[DraftRead]:
    """Drafts waiting for approval, oldest first (they expire)."""
    query = select(ConversationMessage).where(ConversationMessage.status == "pending_approval")
    if campaign_id is not None:
        conversations = select(Conversation.id).where(Conversation.campaign_id == campaign_id)
        query = query.where(ConversationMessage.conversation_id.in_(conversations))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(ConversationMessage.id).limit(page.limit).offset(page.offset)
    )
    items = [DraftRead.model_validate(row) for row in rows]
    return Page(items=items, total=total or 0, limit=page.limit, offset=page.offset)


@router.get("/campaigns/{campaign_id}/outreach", response_model=OutreachUsage)
async def outreach_usage(_: Viewer, session: SessionDep, campaign_id: Id) -> OutreachUsage:
    """Conversations by status, messages sent, drafts waiting, LLM tokens and cost."""
    if await session.get(Campaign, campaign_id) is None:
        raise HTTPException(404, f"campaign {campaign_id} not found")
    by_status = await session.execute(
        select(Conversation.status, func.count())
        .where(Conversation.campaign_id == campaign_id)
        .group_by(Conversation.status)
    )
    mine = select(Conversation.id).where(Conversation.campaign_id == campaign_id)
    out = ConversationMessage.conversation_id.in_(mine) & (ConversationMessage.direction == "out")
    totals = (
        await session.execute(
            select(
                func.count().filter(ConversationMessage.status == "sent"),
                func.count().filter(ConversationMessage.status == "pending_approval"),
                func.coalesce(func.sum(ConversationMessage.prompt_tokens), 0),
                func.coalesce(func.sum(ConversationMessage.completion_tokens), 0),
                func.coalesce(func.sum(ConversationMessage.cost), 0.0),
            ).where(out)
        )
    ).one()
    return OutreachUsage(
        campaign_id=campaign_id,
        conversations={str(status): int(count) for status, count in by_status.all()},
        messages_sent=totals[0],
        drafts_pending=totals[1],
        prompt_tokens=totals[2],
        completion_tokens=totals[3],
        cost=round(float(totals[4]), 6),
    )
