"""Conversations, drafts waiting for approval, and the operator's actions on them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from admin.api.deps import PageDep, SessionDep
from admin.api.schemas import (
    ConversationDetail,
    ConversationRead,
    DraftRead,
    MessageRead,
    OutreachUsage,
    Page,
)
from core.db import Database
from core.db.models import Campaign, Conversation, ConversationMessage
from manager import operator
from manager.operator import OperatorError

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


class Operator(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str = Field(min_length=1, max_length=64, description="who does it (audit log)")


class Approval(Operator):
    text: str | None = Field(None, min_length=1, max_length=4096, description="edited text")


class Rejection(Operator):
    reason: str = Field("", max_length=500)


class ManualMessage(Operator):
    text: str = Field(min_length=1, max_length=4096)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _refused(exc: OperatorError) -> HTTPException:
    return HTTPException(404 if exc.missing else 409, str(exc))


@router.get("/conversations", response_model=Page[ConversationRead])
async def list_conversations(
    session: SessionDep,
    page: PageDep,
    campaign_id: Annotated[int | None, Query(ge=1)] = None,
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
async def get_conversation(session: SessionDep, conversation_id: int) -> ConversationDetail:
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


@router.post("/conversations/{conversation_id}/takeover", status_code=204)
async def take_over(request: Request, conversation_id: int, body: Operator) -> None:
    """Stop automatic replies; publishes conversation.handoff."""
    try:
        await operator.take_over(_db(request), conversation_id, by=body.by)
    except OperatorError as exc:
        raise _refused(exc) from exc


@router.post("/conversations/{conversation_id}/messages", response_model=MessageRead)
async def write_by_hand(request: Request, conversation_id: int, body: ManualMessage) -> MessageRead:
    """Send an operator's own message in a conversation they took over."""
    try:
        message = await operator.send_manual(
            _db(request), conversation_id, by=body.by, text=body.text
        )
    except OperatorError as exc:
        raise _refused(exc) from exc
    return MessageRead.model_validate(message)


@router.get("/drafts", response_model=Page[DraftRead])
async def list_drafts(
    session: SessionDep,
    page: PageDep,
    campaign_id: Annotated[int | None, Query(ge=1)] = None,
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


@router.post("/drafts/{message_id}/approve", response_model=MessageRead)
async def approve(request: Request, message_id: int, body: Approval) -> MessageRead:
    """Send the draft, or the edited text when given, at the account's next allowed time."""
    try:
        message = await operator.approve(_db(request), message_id, by=body.by, text=body.text)
    except OperatorError as exc:
        raise _refused(exc) from exc
    return MessageRead.model_validate(message)


@router.post("/drafts/{message_id}/reject", status_code=204)
async def reject(request: Request, message_id: int, body: Rejection) -> None:
    try:
        await operator.reject(_db(request), message_id, by=body.by, reason=body.reason)
    except OperatorError as exc:
        raise _refused(exc) from exc


@router.get("/campaigns/{campaign_id}/outreach", response_model=OutreachUsage)
async def outreach_usage(session: SessionDep, campaign_id: int) -> OutreachUsage:
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
