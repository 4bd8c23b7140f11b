"""The dashboard's numbers per UTC day over a range (7, 30 or 90 days), for one campaign or all:
the funnel (messages scanned → leads → first DMs → replies → opt-outs), LLM tokens and cost,
and the reply rate per prompt version (an A/B of two prompts reads as two rows).

Every query is bounded by the range and walks an index on its date, and none reads a message:
the parser's daily counts (``chat_daily_counts`` by day) for messages scanned, leads by
``first_seen_at``, and the manager's daily counts (``campaign_daily_counts``, kept in the
transaction of each send, answer, opt-out and written message; ``manager.daily_counts``) for the
rest. A reply counts on its first DM's day, so a day's replies are the answers its first DMs got.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, Select, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.db.models import Campaign, CampaignChat, CampaignDailyCount, Chat, ChatDailyCount, Lead

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


def _in_campaign(campaign_id: int | None) -> list[ColumnElement[bool]]:
    if campaign_id is None:
        return []
    return [CampaignDailyCount.campaign_id == campaign_id]


@dataclass(frozen=True)
class FirstDms:
    """First DMs sent on one UTC day by one campaign with one prompt version, and how many of
    them have an answer: the funnel's first DMs, the rates per version and the reply-rate flags
    all come from these rows (one query)."""

    campaign: str
    version: str
    day: date
    sent: int
    replied: int


async def first_dms(
    session: AsyncSession, since: datetime, campaign_id: int | None
) -> list[FirstDms]:
    counts = CampaignDailyCount
    query = (
        select(
            Campaign.name,
            counts.template_version,
            counts.day,
            func.sum(counts.first_dms),
            func.sum(counts.replies),
        )
        .join(Campaign, Campaign.id == counts.campaign_id)
        .where(counts.day >= since.date(), counts.first_dms > 0, *_in_campaign(campaign_id))
        .group_by(Campaign.name, counts.template_version, counts.day)
    )
    return [
        FirstDms(name, version or "—", as_day(day), int(sent), int(got or 0))
        for name, version, day, sent, got in await session.execute(query)
    ]


async def funnel(session: AsyncSession, scope: Scope, dms: list[FirstDms]) -> Series:
    """The funnel and the LLM's tokens and cost, per day of the range."""
    dialect = session.get_bind().dialect.name
    days: dict[str, dict[date, float]] = {}
    days["scanned"] = await _daily(session, _scanned(scope))
    lead_day = day_of(Lead.first_seen_at, dialect)
    leads = select(lead_day, func.count()).where(Lead.first_seen_at >= scope.since)
    if scope.campaign_id is not None:
        leads = leads.where(Lead.campaign_id == scope.campaign_id)
    days["leads"] = await _daily(session, leads.group_by(lead_day))
    days["first_dms"] = {}
    for row in dms:
        days["first_dms"][row.day] = days["first_dms"].get(row.day, 0.0) + row.sent
    days.update(await _outreach(session, scope))
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


async def _outreach(session: AsyncSession, scope: Scope) -> dict[str, dict[date, float]]:
    """Replies, opt-outs and the LLM's tokens and cost per day, from the manager's counts."""
    names = ("replies", "opt_outs", "prompt_tokens", "completion_tokens", "cost")
    counts = CampaignDailyCount
    query = (
        select(counts.day, *(func.sum(getattr(counts, name)) for name in names))
        .where(counts.day >= scope.first_day, *_in_campaign(scope.campaign_id))
        .group_by(counts.day)
    )
    result: dict[str, dict[date, float]] = {name: {} for name in names}
    for day, *values in await session.execute(query):
        for name, value in zip(names, values, strict=True):
            result[name][as_day(day)] = float(value or 0)
    return result


def version_rates(scope: Scope, dms: list[FirstDms]) -> list[VersionRate]:
    """First DMs sent in the range per campaign and prompt version, and how many got an answer."""
    totals: dict[tuple[str, str], list[int]] = {}
    for row in dms:
        if row.day >= scope.first_day:
            counts = totals.setdefault((row.campaign, row.version), [0, 0])
            counts[0] += row.sent
            counts[1] += row.replied
    return [VersionRate(c, v, sent, got) for (c, v), (sent, got) in sorted(totals.items())]


def totals(series: Series, names: Sequence[str] = FUNNEL) -> dict[str, int]:
    return {name: int(series.total(name)) for name in names}
