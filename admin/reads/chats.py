"""Chats as admins look at them: which parser account holds each, which campaigns read it, how
much it said and how much matched in the last seven days; and each parser account's load
against Telegram's cap on joined chats.

The daily counts are the parser's (``chat_daily_counts``, by Telegram's chat id): a chat the
parser has not resolved or read yet shows zeros."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.reads.paging import PAGE_SIZE, capped_count
from core.db.models import Account, Campaign, CampaignChat, Chat, ChatAssignment, ChatDailyCount

CHAT_CAP = 500  # Telegram lets one account be in at most 500 groups and channels
DAYS = 7


@dataclass(frozen=True)
class ChatRow:
    chat: Chat
    holder_id: int | None
    holder: str | None
    campaigns: list[tuple[int, str, str]] = field(default_factory=list)  # (id, name, status)
    messages: int = 0  # read in the last DAYS days
    matched: int = 0


@dataclass(frozen=True)
class ChatPage:
    rows: list[ChatRow]
    total: int
    more: bool
    search: str
    offset: int


@dataclass(frozen=True)
class AccountLoad:
    id: int
    name: str
    status: str
    chats: int

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.chats / CHAT_CAP))

    @property
    def cap(self) -> int:
        return CHAT_CAP


def _matching(search: str) -> Select[Any]:
    query = select(Chat)
    if search.strip():
        like = f"%{search.strip()}%"
        query = query.where(or_(Chat.ref.ilike(like), Chat.title.ilike(like)))
    return query


async def chat_page(session: AsyncSession, search: str = "", offset: int = 0) -> ChatPage:
    query = _matching(search)
    total, more = await capped_count(session, query, offset)
    chats = list(await session.scalars(query.order_by(Chat.ref).offset(offset).limit(PAGE_SIZE)))
    rows = await describe(session, chats)
    return ChatPage(rows, total, more, search, offset)


async def describe(session: AsyncSession, chats: list[Chat]) -> list[ChatRow]:
    """Holders, campaigns and the week's counts of ``chats``, in three narrow queries."""
    ids = [chat.id for chat in chats]
    holders = {
        chat_id: (account_id, name)
        for chat_id, account_id, name in await session.execute(
            select(ChatAssignment.chat_id, Account.id, Account.name)
            .join(Account, Account.id == ChatAssignment.account_id)
            .where(ChatAssignment.chat_id.in_(ids))
        )
    }
    using: dict[int, list[tuple[int, str, str]]] = {}
    for chat_id, campaign_id, name, status in await session.execute(
        select(CampaignChat.chat_id, Campaign.id, Campaign.name, Campaign.status)
        .join(Campaign, Campaign.id == CampaignChat.campaign_id)
        .where(CampaignChat.chat_id.in_(ids))
        .order_by(Campaign.name)
    ):
        using.setdefault(chat_id, []).append((campaign_id, name, status))
    counts = await week_counts(session, [c.telegram_chat_id for c in chats if c.telegram_chat_id])
    rows = []
    for chat in chats:
        holder_id, holder = holders.get(chat.id, (None, None))
        messages, matched = counts.get(chat.telegram_chat_id or 0, (0, 0))
        rows.append(ChatRow(chat, holder_id, holder, using.get(chat.id, []), messages, matched))
    return rows


async def week_counts(session: AsyncSession, telegram_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(messages, matched) per Telegram chat id over the last ``DAYS`` UTC days, today included."""
    if not telegram_ids:
        return {}
    since = datetime.now(UTC).date() - timedelta(days=DAYS - 1)
    rows = await session.execute(
        select(
            ChatDailyCount.telegram_chat_id,
            func.sum(ChatDailyCount.messages),
            func.sum(ChatDailyCount.matched),
        )
        .where(ChatDailyCount.telegram_chat_id.in_(telegram_ids), ChatDailyCount.day >= since)
        .group_by(ChatDailyCount.telegram_chat_id)
    )
    return {chat_id: (int(m or 0), int(k or 0)) for chat_id, m, k in rows}


async def holder_loads(session: AsyncSession) -> list[AccountLoad]:
    """Every parser account with the chats it holds, the busiest first."""
    held = (
        select(func.count())
        .where(ChatAssignment.account_id == Account.id)
        .correlate(Account)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Account.id, Account.name, Account.status, held)
        .where(Account.role == "parser")
        .order_by(held.desc(), Account.name)
    )
    return [AccountLoad(i, name, status, int(n or 0)) for i, name, status, n in rows]
