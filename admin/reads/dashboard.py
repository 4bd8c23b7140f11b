"""The dashboard's numbers per UTC day over a range (7, 30 or 90 days), for one campaign or all:
the funnel (messages scanned → leads → first DMs → replies → opt-outs), LLM tokens and cost,
and the reply rate per prompt version (an A/B of two prompts reads as two rows).

Every query is bounded by the range and walks an index on its date: the parser's daily counts
(``chat_daily_counts`` by day), leads by ``first_seen_at``, first DMs by (account, ``sent_at``)
for the handful of accounts, opt-outs by (status, ``updated_at``). Nothing counts a whole table.
Replies and tokens read the range's messages by ``created_at``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, Select, and_, cast, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from core.db.models import (
    Account,
    Campaign,
    CampaignChat,
    Chat,
    ChatDailyCount,
    Conversation,
    ConversationMessage,
    Lead,
)

RANGES = (7, 30, 90)
FUNNEL = ("scanned", "leads", "first_dms", "replies", "opt_outs")


@dataclass(frozen=True)
class Scope:
    days: int
    campaign_id: int | None = None
    today: date = field(default_factory=lambda: datetime.now(UTC).date())

    @property
    def first_day(self) -> date:
        return self.today - timedelta(days=self.days - 1)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first_day, time(), tzinfo=UTC)

    @property
    def day_list(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range(self.days)]


@dataclass(frozen=True)
class VersionRate:
    campaign: str
    version: str  # the prompt or template version the first DM was written with
    sent: int
    replied: int

    @property
    def rate(self) -> float:
        return self.replied / self.sent if self.sent else 0.0


@dataclass
class Series:
    """One number per day of the range, in order."""

    days: list[date]
    values: dict[str, list[float]]

    def total(self, name: str) -> float:
        return sum(self.values[name])


def day_of(column: Any, dialect: str) -> ColumnElement[Any]:
    """The UTC day of a timestamp, as a date (PostgreSQL) or 'YYYY-MM-DD' text (SQLite)."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def as_day(value: Any) -> date:
    """A day from the database: a date (PostgreSQL) or its ISO text (SQLite)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def _daily(session: AsyncSession, query: Select[Any, Any]) -> dict[date, float]:
    return {as_day(day): float(value or 0) for day, value in await session.execute(query)}


async def manager_account_ids(session: AsyncSession) -> list[int]:
    """Every account id: few, and naming them lets the (account, sent_at) index serve a range."""
    return list(await session.scalars(select(Account.id)))


def _in_campaign(campaign_id: int | None) -> list[ColumnElement[bool]]:
    if campaign_id is None:
        return []
    return [Conversation.campaign_id == campaign_id]


async def funnel(session: AsyncSession, scope: Scope) -> Series:
    """The funnel and the LLM's tokens and cost, per day of the range."""
    dialect = session.get_bind().dialect.name
    days: dict[str, dict[date, float]] = {}
    days["scanned"] = await _daily(session, _scanned(scope))
    lead_day = day_of(Lead.first_seen_at, dialect)
    leads = select(lead_day, func.count()).where(Lead.first_seen_at >= scope.since)
    if scope.campaign_id is not None:
        leads = leads.where(Lead.campaign_id == scope.campaign_id)
    days["leads"] = await _daily(session, leads.group_by(lead_day))
    days["first_dms"] = await _daily(session, await _first_dms(session, scope, dialect))
    days["replies"] = await _daily(session, _replies(scope, dialect))
    optout_day = day_of(Conversation.updated_at, dialect)
    optouts = select(optout_day, func.count()).where(
        Conversation.status == "opted_out",
        Conversation.updated_at >= scope.since,
        *_in_campaign(scope.campaign_id),
    )
    days["opt_outs"] = await _daily(session, optouts.group_by(optout_day))
    days.update(await _llm(session, scope, dialect))
    return Series(
        scope.day_list,
        {name: [by_day.get(d, 0.0) for d in scope.day_list] for name, by_day in days.items()},
    )


def _scanned(scope: Scope) -> Select[date, int]:
    query = select(ChatDailyCount.day, func.sum(ChatDailyCount.messages)).where(
        ChatDailyCount.day >= scope.first_day
    )
    if scope.campaign_id is not None:
        chats = (
            select(Chat.telegram_chat_id)
            .join(CampaignChat, CampaignChat.chat_id == Chat.id)
            .where(CampaignChat.campaign_id == scope.campaign_id)
        )
        query = query.where(ChatDailyCount.telegram_chat_id.in_(chats.scalar_subquery()))
    return query.group_by(ChatDailyCount.day)


async def _first_dms(session: AsyncSession, scope: Scope, dialect: str) -> Select[Any]:
    sent_day = day_of(ConversationMessage.sent_at, dialect)
    query = select(sent_day, func.count()).where(
        ConversationMessage.account_id.in_(await manager_account_ids(session)),
        ConversationMessage.sent_at >= scope.since,
        ConversationMessage.kind == "first",
        ConversationMessage.status == "sent",
    )
    if scope.campaign_id is not None:
        query = query.join(Conversation, Conversation.id == ConversationMessage.conversation_id)
        query = query.where(Conversation.campaign_id == scope.campaign_id)
    return query.group_by(sent_day)


def _replies(scope: Scope, dialect: str) -> Select[Any]:
    """People who answered that day (several messages from one person count once)."""
    reply_day = day_of(ConversationMessage.created_at, dialect)
    query = select(reply_day, func.count(ConversationMessage.conversation_id.distinct())).where(
        ConversationMessage.direction == "in", ConversationMessage.created_at >= scope.since
    )
    if scope.campaign_id is not None:
        query = query.join(Conversation, Conversation.id == ConversationMessage.conversation_id)
        query = query.where(Conversation.campaign_id == scope.campaign_id)
    return query.group_by(reply_day)


async def _llm(session: AsyncSession, scope: Scope, dialect: str) -> dict[str, dict[date, float]]:
    written = day_of(ConversationMessage.created_at, dialect)
    query = select(
        written,
        func.sum(ConversationMessage.prompt_tokens),
        func.sum(ConversationMessage.completion_tokens),
        func.sum(ConversationMessage.cost),
    ).where(ConversationMessage.direction == "out", ConversationMessage.created_at >= scope.since)
    if scope.campaign_id is not None:
        query = query.join(Conversation, Conversation.id == ConversationMessage.conversation_id)
        query = query.where(Conversation.campaign_id == scope.campaign_id)
    result: dict[str, dict[date, float]] = {n: {} for n in ("prompt_tokens", "completion_tokens")}
    result["cost"] = {}
    for day, prompt, completion, cost in await session.execute(query.group_by(written)):
        result["prompt_tokens"][as_day(day)] = float(prompt or 0)
        result["completion_tokens"][as_day(day)] = float(completion or 0)
        result["cost"][as_day(day)] = float(cost or 0)
    return result


def replied_exists() -> ColumnElement[bool]:
    """The first DM's conversation has an answer from the person."""
    answer = aliased(ConversationMessage)
    same = answer.conversation_id == ConversationMessage.conversation_id
    return exists().where(and_(same, answer.direction == "in"))


async def version_rates(session: AsyncSession, scope: Scope) -> list[VersionRate]:
    """First DMs sent in the range per campaign and prompt version, and how many got an answer."""
    answered = func.count().filter(replied_exists())
    query = (
        select(
            Campaign.name,
            func.coalesce(ConversationMessage.template_version, ""),
            func.count(),
            answered,
        )
        .join(Conversation, Conversation.id == ConversationMessage.conversation_id)
        .join(Campaign, Campaign.id == Conversation.campaign_id)
        .where(
            ConversationMessage.account_id.in_(await manager_account_ids(session)),
            ConversationMessage.sent_at >= scope.since,
            ConversationMessage.kind == "first",
            ConversationMessage.status == "sent",
            *_in_campaign(scope.campaign_id),
        )
        .group_by(Campaign.name, ConversationMessage.template_version)
        .order_by(Campaign.name, ConversationMessage.template_version)
    )
    return [
        VersionRate(name, version or "—", int(sent), int(got or 0))
        for name, version, sent, got in await session.execute(query)
    ]


def totals(series: Series, names: Sequence[str] = FUNNEL) -> dict[str, int]:
    return {name: int(series.total(name)) for name in names}
