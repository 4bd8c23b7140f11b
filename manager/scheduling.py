"""When an outbound message may go: the account's caps, warm-up, gaps and quiet hours.

A ``SendPlanner`` decides for every message of one transaction. The first time it needs an
account it locks the account row and reads what the account already has planned or sent; every
time it hands out joins that plan, so two messages decided together (a batch of drafts, a lost
account's moved work) never take one slot, and two transactions never decide for one account at
once. The dispatcher then hands due messages to the account's worker.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Account, ConversationMessage
from core.events import as_utc
from core.outreach import OutreachPolicy
from manager import funnel_metrics
from manager.pacing import AccountCaps, QuietHours, day_start, next_send_time

PLANNED = ("scheduled", "queued", "sent")
FIRST = "first"  # kind of the unsolicited first message; only these count as new DMs
RECENT = timedelta(hours=1)  # sends that still matter for gaps and the per-minute cap
LOOKBACK = timedelta(days=2)  # covers the start of today in every time zone


_aware = as_utc  # SQLite hands back naive datetimes


def quiet_hours(policy: OutreachPolicy) -> QuietHours | None:
    if policy.quiet_hours is None:
        return None
    start, end = policy.quiet_hours.as_times()
    return QuietHours(start=start, end=end, tz=policy.timezone)


def caps(policy: OutreachPolicy, daily_cap: int | None = None) -> AccountCaps:
    """The campaign's caps for one account; the account's own ``daily_cap`` (set for a young or
    once-limited account) lowers the campaign's new DMs a day, never raises them."""
    per_day = policy.new_dms_per_day
    if daily_cap is not None:
        per_day = max(1, min(per_day, daily_cap))  # 0 takes no new dialogs (store.manager_load)
    return AccountCaps(
        new_dms_per_day=per_day,
        messages_per_minute=policy.messages_per_minute,
        warmup_days=policy.warmup_days,
        warmup_start_dms=min(policy.warmup_start_dms, per_day),
    )


def _reply_caps(policy: OutreachPolicy) -> AccountCaps:
    return AccountCaps(new_dms_per_day=1, messages_per_minute=policy.messages_per_minute)


@dataclass
class _Plan:
    """One account: when it was created, its own cap of new DMs a day, and what it has planned
    or sent lately."""

    created_at: datetime
    daily_cap: int | None
    planned: list[tuple[datetime, str]] = field(default_factory=list)  # (send time, kind)
    _first_by_day: dict[str, Counter[datetime]] = field(default_factory=dict)  # by zone name

    def first_by_day(self, zone: ZoneInfo) -> Counter[datetime]:
        """New DMs per local day in ``zone``: counted once, then kept up to date by ``add``."""
        counted = self._first_by_day.get(zone.key)
        if counted is None:
            counted = Counter(day_start(at, zone) for at, kind in self.planned if kind == FIRST)
            self._first_by_day[zone.key] = counted
        return counted

    def add(self, at: datetime, kind: str) -> None:
        self.planned.append((at, kind))
        if kind == FIRST:
            for zone, counted in self._first_by_day.items():
                counted[day_start(at, ZoneInfo(zone))] += 1


class SendPlanner:
    def __init__(
        self,
        session: AsyncSession,
        *,
        paced: bool,
        now: datetime,
        rng: random.Random | None = None,
    ) -> None:
        self._session = session
        self._paced = paced
        self._now = now
        self._rng = rng or random.Random()
        self._plans: dict[int, _Plan] = {}

    @property
    def now(self) -> datetime:
        return self._now

    async def send_time(self, *, account_id: int, policy: OutreachPolicy, kind: str) -> datetime:
        """The earliest moment the account may send a message of ``kind``; the moment is taken."""
        if not self._paced:
            return self._now
        plan = self._plans.get(account_id) or await self._load(account_id)
        now = self._now
        recent = [at for at, _ in plan.planned if at >= now - RECENT]
        if kind == FIRST:
            quiet = quiet_hours(policy)
            by_day = plan.first_by_day(quiet.zone if quiet is not None else ZoneInfo("UTC"))
            account_caps = caps(policy, plan.daily_cap)
        else:
            # A reply to someone who just wrote: gaps and the per-minute cap, but no daily cap of
            # new dialogues and no quiet hours (they are awake; silence would be ruder).
            quiet, by_day, account_caps = None, Counter(), _reply_caps(policy)
        at = next_send_time(
            now=now,
            new_dms_by_day=by_day,
            recent_send_times=recent,
            caps=account_caps,
            quiet=quiet,
            account_created_at=plan.created_at,
            jitter=self._rng.random(),
            min_gap_seconds=policy.min_gap_seconds,
            max_gap_seconds=policy.max_gap_seconds,
        )
        plan.add(at, kind)
        if kind == FIRST:
            funnel_metrics.first_dm_planned(
                account_id,
                caps=account_caps,
                created_at=plan.created_at,
                at=at,
                by_day=by_day,
                quiet=quiet,
            )
        return at

    async def _load(self, account_id: int) -> _Plan:
        with self._session.no_autoflush:  # what this transaction plans is in memory already
            return await self._read(account_id)

    async def _read(self, account_id: int) -> _Plan:
        session = self._session
        locked = (
            select(Account.created_at, Account.daily_cap)
            .where(Account.id == account_id)
            .with_for_update()
        )
        created_at, daily_cap = (await session.execute(locked)).one()
        planned = ConversationMessage.send_after
        rows = await session.execute(
            select(planned, ConversationMessage.kind).where(
                ConversationMessage.account_id == account_id,
                ConversationMessage.direction == "out",
                ConversationMessage.status.in_(PLANNED),
                planned >= self._now - LOOKBACK,
            )
        )
        planned_rows = [(_aware(at), kind) for at, kind in rows if at]
        plan = _Plan(_aware(created_at), daily_cap, planned_rows)
        self._plans[account_id] = plan
        return plan
