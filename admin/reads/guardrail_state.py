"""A lead's live guardrail state, beside the reply box: what would stop or delay the next
message right now — the account's new-DM cap left today (after its warm-up ramp), quiet hours,
the person's do-not-contact mark and their contact window across campaigns.

Computed with the manager's pure pacing rules (``manager.pacing``), read-only: the manager
decides, this only shows what it will decide on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Account, Contact, Conversation, ConversationMessage
from core.outreach import OutreachPolicy
from manager.pacing import AccountCaps, QuietHours, day_start, load_zone, new_dm_allowance


@dataclass(frozen=True)
class GuardrailState:
    new_dms_today: int | None  # first messages this account sent today (campaign's day)
    new_dm_cap: int | None  # what it may send today, after the warm-up ramp
    warmup_day: int | None  # days since the account was added, when still warming up
    quiet_until: datetime | None  # the end of the quiet hours, when they are on now
    do_not_contact: bool
    dnc_reason: str | None
    contacted_at: datetime | None  # the first message any campaign sent this person
    window_until: datetime | None  # no other campaign writes first until then

    @property
    def cap_left(self) -> int | None:
        if self.new_dm_cap is None or self.new_dms_today is None:
            return None
        return max(0, self.new_dm_cap - self.new_dms_today)


async def guardrail_state(
    session: AsyncSession,
    conversation: Conversation,
    account: Account | None,
    policy: OutreachPolicy,
    *,
    now: datetime | None = None,
) -> GuardrailState:
    now = now or datetime.now(UTC)
    zone = load_zone(policy.timezone)
    sent_today = cap = warmup = None
    if account is not None:
        caps = AccountCaps(
            new_dms_per_day=policy.new_dms_per_day,
            messages_per_minute=policy.messages_per_minute,
            warmup_days=policy.warmup_days,
            warmup_start_dms=policy.warmup_start_dms,
        )
        created = _aware(account.created_at)
        cap = new_dm_allowance(caps, created, now)
        age = (now - created) // timedelta(days=1)
        warmup = age if age < policy.warmup_days else None
        sent_today = await session.scalar(
            select(func.count())
            .select_from(ConversationMessage)
            .where(
                ConversationMessage.account_id == account.id,
                ConversationMessage.kind == "first",
                ConversationMessage.status == "sent",
                ConversationMessage.sent_at >= day_start(now, zone),
            )
        )
    quiet_until = None
    if policy.quiet_hours is not None:
        start, end = policy.quiet_hours.as_times()
        quiet = QuietHours(start=start, end=end, tz=policy.timezone)
        quiet_until = quiet.next_allowed(now) if quiet.is_quiet(now) else None
    contact = await session.get(Contact, conversation.telegram_user_id)
    contacted = (
        _aware(contact.first_contacted_at) if contact and contact.first_contacted_at else None
    )
    window = contacted + timedelta(days=policy.contact_window_days) if contacted else None
    return GuardrailState(
        new_dms_today=int(sent_today or 0) if account is not None else None,
        new_dm_cap=cap,
        warmup_day=warmup,
        quiet_until=quiet_until,
        do_not_contact=bool(contact and contact.do_not_contact),
        dnc_reason=contact.dnc_reason if contact else None,
        contacted_at=contacted,
        window_until=window if window and window > now else None,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
