"""Campaigns as admins look at them: status, what each reads and with whom, its numbers (leads,
conversations by status), and what the form's pickers offer (chats, keyword sets, accounts by
role), ids and names only."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Account, Campaign, Chat, Conversation, KeywordSet, Lead

CONVERSATION_STATUSES = (
    "waiting",
    "drafting",
    "awaiting_approval",
    "active",
    "handoff",
    "finished",
    "opted_out",
    "expired",
)


@dataclass(frozen=True)
class CampaignRow:
    id: int
    name: str
    status: str
    leads: int


@dataclass(frozen=True)
class Numbers:
    leads: int
    conversations: dict[str, int] = field(default_factory=dict)
    verdicts: dict[str, int] = field(default_factory=dict)  # leads by the second stage's verdict

    @property
    def conversations_total(self) -> int:
        return sum(self.conversations.values())


@dataclass(frozen=True)
class Choices:
    """(value, label) pairs: a chat by its reference, the others by name."""

    chats: list[tuple[str, str]]
    keyword_sets: list[tuple[str, str]]
    parser_accounts: list[tuple[str, str]]  # the label says a status other than active
    manager_accounts: list[tuple[str, str]]


async def campaign_rows(session: AsyncSession) -> list[CampaignRow]:
    per_campaign = select(Lead.campaign_id, func.count()).group_by(Lead.campaign_id)
    leads = {row[0]: int(row[1]) for row in await session.execute(per_campaign)}
    rows = await session.execute(
        select(Campaign.id, Campaign.name, Campaign.status).order_by(Campaign.name)
    )
    return [CampaignRow(i, name, status, int(leads.get(i, 0))) for i, name, status in rows]


async def numbers(session: AsyncSession, campaign_id: int) -> Numbers:
    leads = await session.scalar(select(func.count()).where(Lead.campaign_id == campaign_id))
    rows = await session.execute(
        select(Conversation.status, func.count())
        .where(Conversation.campaign_id == campaign_id)
        .group_by(Conversation.status)
    )
    by_status = {status: int(n) for status, n in rows}
    ordered = {s: by_status.pop(s) for s in CONVERSATION_STATUSES if s in by_status}
    verdicts = await session.execute(
        select(Lead.intent, func.count())
        .where(Lead.campaign_id == campaign_id, Lead.intent.is_not(None))
        .group_by(Lead.intent)
    )
    return Numbers(int(leads or 0), ordered | by_status, {str(v): int(n) for v, n in verdicts})


async def choices(session: AsyncSession) -> Choices:
    chats = [
        (ref, f"{title} ({ref})" if title else ref)
        for ref, title in await session.execute(select(Chat.ref, Chat.title).order_by(Chat.ref))
    ]
    sets = [
        (n, n) for n in await session.scalars(select(KeywordSet.name).order_by(KeywordSet.name))
    ]
    accounts = await session.execute(
        select(Account.name, Account.role, Account.status).order_by(Account.name)
    )
    by_role: dict[str, list[tuple[str, str]]] = {"parser": [], "manager": []}
    for name, role, status in accounts:
        label = name if status == "active" else f"{name} · {status}"
        by_role.get(role, []).append((name, label))
    return Choices(chats, sets, by_role["parser"], by_role["manager"])
