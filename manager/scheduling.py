"""When an outbound message may go: the account's caps, warm-up, gaps and quiet hours.

The decision is made when a message is scheduled, from what the account already has planned or
sent, with the account row locked so that two messages scheduled at once cannot take one slot.
The dispatcher then hands due messages to the account's worker.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Account, ConversationMessage
from core.outreach import OutreachPolicy
from manager.pacing import AccountCaps, QuietHours, day_start, next_send_time

PLANNED = ("scheduled", "queued", "sent")
FIRST = "first"  # kind of the unsolicited first message; only these count as new DMs


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def quiet_hours(policy: OutreachPolicy) -> QuietHours | None:
    if policy.quiet_hours is None:
        return None
    start, end = policy.quiet_hours.as_times()
    return QuietHours(start=start, end=end, tz=policy.timezone)


def caps(policy: OutreachPolicy) -> AccountCaps:
    return AccountCaps(
        new_dms_per_day=policy.new_dms_per_day,
        messages_per_minute=policy.messages_per_minute,
        warmup_days=policy.warmup_days,
        warmup_start_dms=policy.warmup_start_dms,
    )


async def send_time(
    session: AsyncSession,
    *,
    account_id: int,
    policy: OutreachPolicy,
    kind: str,
    now: datetime,
    paced: bool = True,
    rng: random.Random | None = None,
) -> datetime:
    """The earliest moment this account may send a message of ``kind`` (locks the account)."""
    if not paced:
        return now
    account = (
        await session.scalars(select(Account).where(Account.id == account_id).with_for_update())
    ).one()
    planned = ConversationMessage.send_after
    recent = list(
        await session.scalars(
            select(planned).where(
                ConversationMessage.account_id == account_id,
                ConversationMessage.direction == "out",
                ConversationMessage.status.in_(PLANNED),
                planned >= now - timedelta(hours=1),
            )
        )
    )
    if kind == FIRST:
        quiet = quiet_hours(policy)
        zone_day = day_start(now, quiet.zone if quiet is not None else ZoneInfo("UTC"))
        new_today = await session.scalar(
            select(func.count()).where(
                ConversationMessage.account_id == account_id,
                ConversationMessage.kind == FIRST,
                ConversationMessage.status.in_(PLANNED),
                planned >= zone_day,
            )
        )
        account_caps = caps(policy)
    else:
        # A reply to someone who just wrote: gaps and the per-minute cap, but no daily cap of
        # new dialogues and no quiet hours (they are awake; silence would be ruder).
        quiet, new_today, account_caps = None, 0, _reply_caps(policy)
    return next_send_time(
        now=now,
        sent_today_new_dms=int(new_today or 0),
        recent_send_times=[_aware(t) for t in recent if t is not None],
        caps=account_caps,
        quiet=quiet,
        account_created_at=_aware(account.created_at),
        jitter=(rng or random).random(),
        min_gap_seconds=policy.min_gap_seconds,
        max_gap_seconds=policy.max_gap_seconds,
    )


def _reply_caps(policy: OutreachPolicy) -> AccountCaps:
    return AccountCaps(new_dms_per_day=1, messages_per_minute=policy.messages_per_minute)
