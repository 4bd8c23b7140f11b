"""The dashboard's health: each account's sends today against its cap (campaign cap, warm-up ramp,
the account's own ceiling), FloodWaits and PeerFloods this week, warm-up day and state; and the
flags on what changed.

The rule for a flag, the same for every subject: this week (the last 7 UTC days, today included)
is compared with the 14 days before it, each subject with its own history.

- An account's FloodWait or PeerFlood rate (events a day) is flagged when it had at least
  ``MIN_EVENTS`` this week and its rate is above both the 14-day mean plus twice the spread
  (standard deviation of the 14 daily counts) and one and a half times that mean.
- A campaign's reply rate (first DMs answered) is flagged, up or down, when at least ``MIN_DMS``
  first DMs went out this week and in the 14 days before, and this week's rate is further from
  the mean of the daily rates than both twice their spread and ``RATE_MARGIN``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.reads.dashboard import FirstDms, as_day, day_of
from core.db.models import (
    Account,
    AccountEvent,
    Campaign,
    CampaignAccount,
    ConversationMessage,
)
from core.outreach import OutreachPolicy
from manager.pacing import AccountCaps, day_start, load_zone, new_dm_allowance

WEEK, BASELINE = 7, 14
MIN_EVENTS = 3
MIN_DMS = 20
RATE_MARGIN = 0.05
FLOOD_KINDS = ("flood_wait", "peer_flood")


@dataclass(frozen=True)
class Flag:
    subject: str  # the account's or the campaign's name
    what: str  # flood_wait, peer_flood or reply_rate
    week: float  # this week's rate: events a day, or the share of first DMs answered
    mean: float  # the 14 days before
    spread: float
    volume: int  # events, or first DMs, this week

    @property
    def up(self) -> bool:
        return self.week > self.mean


@dataclass
class AccountHealth:
    id: int
    name: str
    role: str
    state: str  # active, paused, banned, revoked, flood_wait, peer_flood
    until: datetime | None
    warmup_day: int | None  # days since it was added, while it still warms up
    sent_today: int | None = None  # new DMs (managers only)
    cap: int | None = None
    flood_waits: int = 0  # this week
    flood_wait_seconds: int = 0
    peer_floods: int = 0
    flags: list[Flag] = field(default_factory=list)


@dataclass(frozen=True)
class Window:
    """Today, the 7 days of "this week" and the 14 before them."""

    today: date

    @cached_property  # read for every account and kind
    def week(self) -> list[date]:
        return [self.today - timedelta(days=n) for n in range(WEEK)]

    @cached_property
    def baseline(self) -> list[date]:
        return [self.today - timedelta(days=n) for n in range(WEEK, WEEK + BASELINE)]

    @property
    def since(self) -> datetime:
        first = self.today - timedelta(days=WEEK + BASELINE - 1)
        return datetime(first.year, first.month, first.day, tzinfo=UTC)


def _spread(values: list[float]) -> tuple[float, float]:
    """Mean and population standard deviation, in floats: ``statistics.pstdev`` is exact (it
    works in fractions) and cost the page milliseconds for 50 accounts × 2 kinds."""
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def event_flag(subject: str, what: str, by_day: dict[date, int], window: Window) -> Flag | None:
    mean, spread = _spread([float(by_day.get(d, 0)) for d in window.baseline])
    count = sum(by_day.get(d, 0) for d in window.week)
    rate = count / WEEK
    if count >= MIN_EVENTS and rate > mean + 2 * spread and rate > 1.5 * mean:
        return Flag(subject, what, rate, mean, spread, count)
    return None


def rate_flag(subject: str, by_day: dict[date, tuple[int, int]], window: Window) -> Flag | None:
    """``by_day``: first DMs sent that day and how many of them got an answer."""
    sent = sum(by_day.get(d, (0, 0))[0] for d in window.week)
    got = sum(by_day.get(d, (0, 0))[1] for d in window.week)
    before = [by_day[d] for d in window.baseline if by_day.get(d, (0, 0))[0]]
    if sent < MIN_DMS or sum(s for s, _ in before) < MIN_DMS:
        return None
    mean, spread = _spread([g / s for s, g in before])
    rate = got / sent
    if abs(rate - mean) > max(2 * spread, RATE_MARGIN):
        return Flag(subject, "reply_rate", rate, mean, spread, sent)
    return None


async def account_health(
    session: AsyncSession, campaign_id: int | None, *, now: datetime | None = None
) -> list[AccountHealth]:
    now = now or datetime.now(UTC)
    window = Window(now.date())
    query = select(Account).order_by(Account.name)
    if campaign_id is not None:
        linked = select(CampaignAccount.account_id).where(
            CampaignAccount.campaign_id == campaign_id
        )
        query = query.where(Account.id.in_(linked.scalar_subquery()))
    accounts = list(await session.scalars(query))
    if not accounts:
        return []
    ids = [a.id for a in accounts]
    policies = await _manager_policies(session, ids)
    sends = await _recent_sends(session, ids, now)
    events = await _events(session, ids, window)
    health = []
    for account in accounts:
        view = _state(account, now, policies.get(account.id))
        if account.id in policies:
            zone = load_zone(policies[account.id].timezone)
            start = day_start(now, zone)
            view.sent_today = sum(1 for at in sends.get(account.id, ()) if at >= start)
        mine = events.get(account.id, {})
        week = set(window.week)
        for kind in FLOOD_KINDS:
            days = {d: n for d, (n, _) in mine.get(kind, {}).items()}
            if (flag := event_flag(account.name, kind, days, window)) is not None:
                view.flags.append(flag)
        floods = mine.get("flood_wait", {})
        view.flood_waits = sum(n for d, (n, _) in floods.items() if d in week)
        view.flood_wait_seconds = sum(s for d, (_, s) in floods.items() if d in week)
        view.peer_floods = sum(n for d, (n, _) in mine.get("peer_flood", {}).items() if d in week)
        health.append(view)
    return health


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _state(account: Account, now: datetime, policy: OutreachPolicy | None) -> AccountHealth:
    created = _aware(account.created_at)
    age = max(0, (now - created) // timedelta(days=1))
    state, until = account.status, None
    if state == "active":
        for kind, moment in (
            ("flood_wait", account.flood_until),
            ("peer_flood", account.peer_flood_until),
        ):
            if moment is not None and _aware(moment) > now:
                state, until = kind, _aware(moment)
                break
    view = AccountHealth(account.id, account.name, account.role, state, until, None)
    if policy is not None:
        caps = AccountCaps(
            new_dms_per_day=policy.new_dms_per_day,
            messages_per_minute=policy.messages_per_minute,
            warmup_days=policy.warmup_days,
            warmup_start_dms=policy.warmup_start_dms,
        )
        cap = new_dm_allowance(caps, created, now)
        view.cap = min(cap, account.daily_cap) if account.daily_cap is not None else cap
        view.warmup_day = age if age < policy.warmup_days else None
    return view


async def _manager_policies(session: AsyncSession, ids: list[int]) -> dict[int, OutreachPolicy]:
    """The outreach policy of the first campaign each account writes for (its pacing)."""
    rows = await session.execute(
        select(CampaignAccount.account_id, Campaign.outreach)
        .join(Campaign, Campaign.id == CampaignAccount.campaign_id)
        .where(CampaignAccount.account_id.in_(ids), CampaignAccount.role == "manager")
        .order_by(Campaign.id)
    )
    policies: dict[int, OutreachPolicy] = {}
    for account_id, outreach in rows:
        if account_id not in policies:
            policies[account_id] = OutreachPolicy.model_validate(outreach or {})
    return policies


async def _recent_sends(
    session: AsyncSession, ids: list[int], now: datetime
) -> dict[int, list[datetime]]:
    """First DMs of the last two days (any campaign's "today" lies within them)."""
    rows = await session.execute(
        select(ConversationMessage.account_id, ConversationMessage.sent_at).where(
            ConversationMessage.account_id.in_(ids),
            ConversationMessage.sent_at >= now - timedelta(days=2),
            ConversationMessage.kind == "first",
            # no status: only a sent message has a sent_at, and naming it made PostgreSQL AND
            # in the status index (every sent message) with the (account, sent_at) range
        )
    )
    sends: dict[int, list[datetime]] = defaultdict(list)
    for account_id, sent_at in rows:
        if account_id is not None and sent_at is not None:  # the query's filter; for the types
            sends[account_id].append(_aware(sent_at))
    return sends


async def _events(
    session: AsyncSession, ids: list[int], window: Window
) -> dict[int, dict[str, dict[date, tuple[int, int]]]]:
    """FloodWaits and PeerFloods per account, kind and day: (how many, seconds)."""
    day = day_of(AccountEvent.at, session.get_bind().dialect.name)
    rows = await session.execute(
        select(
            AccountEvent.account_id,
            AccountEvent.kind,
            day,
            func.count(),
            func.coalesce(func.sum(AccountEvent.seconds), 0),
        )
        .where(
            AccountEvent.at >= window.since,
            AccountEvent.account_id.in_(ids),
            AccountEvent.kind.in_(FLOOD_KINDS),
        )
        .group_by(AccountEvent.account_id, AccountEvent.kind, day)
    )
    found: dict[int, dict[str, dict[date, tuple[int, int]]]] = defaultdict(dict)
    for account_id, kind, when, count, seconds in rows:
        found[account_id].setdefault(kind, {})[as_day(when)] = (int(count), int(seconds))
    return found


def campaign_flags(dms: list[FirstDms], *, now: datetime | None = None) -> list[Flag]:
    """Campaigns whose reply rate this week left their own last 14 days (``dms`` must reach
    back to ``Window.since``)."""
    window = Window((now or datetime.now(UTC)).date())
    per_campaign: dict[str, dict[date, tuple[int, int]]] = defaultdict(dict)
    for row in dms:
        sent, got = per_campaign[row.campaign].get(row.day, (0, 0))
        per_campaign[row.campaign][row.day] = (sent + row.sent, got + row.replied)
    return _flags(rate_flag(name, days, window) for name, days in sorted(per_campaign.items()))


def _flags(found: Iterable[Flag | None]) -> list[Flag]:
    return [flag for flag in found if flag is not None]
