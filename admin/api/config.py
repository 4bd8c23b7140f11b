"""Chats and campaigns as configured (read-only until the panel lands); accounts are in
``admin.api.accounts``."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select

from admin.access.deps import Viewer
from admin.api.deps import SessionDep
from admin.api.schemas import CampaignRead, ChatRead
from core.db.models import Campaign, Chat, ChatAssignment, Lead

router = APIRouter(tags=["configuration"])


@router.get("/chats", response_model=list[ChatRead])
async def list_chats(_: Viewer, session: SessionDep) -> list[ChatRead]:
    rows = await session.execute(
        select(Chat, ChatAssignment.account_id)
        .outerjoin(ChatAssignment, ChatAssignment.chat_id == Chat.id)
        .order_by(Chat.id)
    )
    return [
        ChatRead(
            id=chat.id,
            ref=chat.ref,
            title=chat.title,
            telegram_chat_id=chat.telegram_chat_id,
            listener_account_id=listener,
        )
        for chat, listener in rows
    ]


@router.get("/campaigns", response_model=list[CampaignRead])
async def list_campaigns(_: Viewer, session: SessionDep) -> list[CampaignRead]:
    per_campaign = select(Lead.campaign_id, func.count()).group_by(Lead.campaign_id)
    leads: dict[int, int] = dict((await session.execute(per_campaign)).all())
    campaigns = await session.scalars(select(Campaign).order_by(Campaign.id))
    return [
        CampaignRead(
            id=c.id,
            name=c.name,
            mode=c.mode,
            status=c.status,
            keyword_sets=[k.name for k in c.keyword_sets],
            chats=[chat.ref for chat in c.chats],
            parser_accounts=[x.account_id for x in c.account_links if x.role == "parser"],
            manager_accounts=[x.account_id for x in c.account_links if x.role == "manager"],
            leads=leads.get(c.id, 0),
        )
        for c in campaigns
    ]
