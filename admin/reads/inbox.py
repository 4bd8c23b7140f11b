"""The inbox: conversations across every manager account, by what they need, and one
conversation with everything an operator decides on (the dialogue, why the lead was picked,
the held draft's failed checks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.reads.paging import PAGE_SIZE, capped_count
from admin.reads.people_names import display_name
from core.db.models import Account, Campaign, Conversation, ConversationMessage, Lead

Need = Literal["needs_approval", "needs_human", "active", "opted_out", "finished", "all"]
NEEDS: dict[Need, tuple[str, ...]] = {
    "needs_approval": ("awaiting_approval",),
    "needs_human": ("handoff",),
    "active": ("active", "drafting", "waiting"),
    "opted_out": ("opted_out",),
    "finished": ("finished", "rejected", "expired", "skipped", "failed"),
    "all": (),
}


@dataclass(frozen=True)
class InboxFilter:
    need: Need = "needs_approval"
    campaign_id: int | None = None
    account_id: int | None = None
    search: str = ""
    offset: int = 0


@dataclass(frozen=True)
class InboxRow:
    conversation: Conversation
    lead_name: str
    campaign: str


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    total: int
    filter: InboxFilter
    more: bool = False  # the total was not counted to the end


async def inbox_page(session: AsyncSession, wanted: InboxFilter) -> InboxPage:
    where: list[ColumnElement[bool]] = []
    if NEEDS[wanted.need]:
        where.append(Conversation.status.in_(NEEDS[wanted.need]))
    if wanted.campaign_id is not None:
        where.append(Conversation.campaign_id == wanted.campaign_id)
    if wanted.account_id is not None:
        where.append(Conversation.account_id == wanted.account_id)
    counted = select(Conversation.id).where(*where)  # no join unless the search needs the lead
    if wanted.search.strip():
        like = f"%{wanted.search.strip()}%"
        where.append(or_(Conversation.username.ilike(like), Lead.text.ilike(like)))
        counted = select(Conversation.id).join(Lead, Lead.id == Conversation.lead_id).where(*where)
    total, more = await capped_count(session, counted, wanted.offset)
    query = (
        select(Conversation, Lead.profile, Campaign.name)
        .join(Lead, Lead.id == Conversation.lead_id)
        .join(Campaign, Campaign.id == Conversation.campaign_id)
        .where(*where)
    )
    rows = await session.execute(
        query.order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(PAGE_SIZE)
        .offset(wanted.offset)
    )
    return InboxPage(
        rows=[
            InboxRow(c, display_name(profile, c.username, c.telegram_user_id), name)
            for c, profile, name in rows
        ],
        total=total,
        filter=wanted,
        more=more,
    )


async def needs_counts(session: AsyncSession) -> dict[str, int]:
    """How many conversations wait for a person: drafts to approve, requests for a human."""
    rows = await session.execute(
        select(Conversation.status, func.count())
        .where(Conversation.status.in_(("awaiting_approval", "handoff")))
        .group_by(Conversation.status)
    )
    counts: dict[str, int] = {str(row[0]): int(row[1]) for row in rows}
    return {
        "needs_approval": counts.get("awaiting_approval", 0),
        "needs_human": counts.get("handoff", 0),
    }


@dataclass(frozen=True)
class ConversationView:
    conversation: Conversation
    lead: Lead
    campaign: Campaign
    account: Account | None
    messages: list[ConversationMessage]

    @property
    def lead_name(self) -> str:
        c = self.conversation
        return display_name(self.lead.profile, c.username, c.telegram_user_id)

    @property
    def pending(self) -> ConversationMessage | None:
        return next((m for m in self.messages if m.status == "pending_approval"), None)


async def conversation_view(session: AsyncSession, conversation_id: int) -> ConversationView | None:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    lead = await session.get(Lead, conversation.lead_id)
    campaign = await session.get(Campaign, conversation.campaign_id)
    if lead is None or campaign is None:  # deleted while we read
        return None
    account = (
        await session.get(Account, conversation.account_id) if conversation.account_id else None
    )
    messages = list(
        await session.scalars(
            select(ConversationMessage)
            .where(ConversationMessage.conversation_id == conversation_id)
            .order_by(ConversationMessage.created_at, ConversationMessage.id)
        )
    )
    return ConversationView(conversation, lead, campaign, account, messages)
