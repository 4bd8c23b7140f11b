"""Who gets an alert: the chats whose subscription covers its family and campaign, minus silences
and inhibitions, with quiet hours moving when it is sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import User
from core.db.notifier_models import Alert, AlertRecipient, AlertSilence, TelegramTakeover
from notifier.alert_kinds import FAMILIES, INHIBITED_BY, kind


@dataclass(frozen=True)
class Recipient:
    id: int
    chat_id: int
    families: frozenset[str]
    campaign_ids: frozenset[int]
    new_leads: str
    digest_minutes: int
    timezone: str
    quiet_from: str | None
    quiet_to: str | None

    @classmethod
    def of(cls, row: AlertRecipient) -> Recipient:
        return cls(
            id=row.id,
            chat_id=row.chat_id,
            families=frozenset(row.kinds or ()),
            campaign_ids=frozenset(int(c) for c in row.campaign_ids or ()),
            new_leads=row.new_leads,
            digest_minutes=row.digest_minutes,
            timezone=row.timezone,
            quiet_from=row.quiet_from,
            quiet_to=row.quiet_to,
        )

    def wants(self, alert: Alert) -> bool:
        family = kind(alert.kind).family
        if family not in self.families:
            return False
        if family == "leads" and self.new_leads == "off":
            return False
        return not (
            self.campaign_ids
            and alert.campaign_id is not None
            and alert.campaign_id not in self.campaign_ids
        )

    def quiet_until(self, now: datetime) -> datetime | None:
        """The end of the quiet hours ``now`` falls in, or None when it is not quiet."""
        if not self.quiet_from or not self.quiet_to or self.quiet_from == self.quiet_to:
            return None
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        local = now.astimezone(zone)
        start, end = time.fromisoformat(self.quiet_from), time.fromisoformat(self.quiet_to)
        clock = local.time()
        quiet = start <= clock < end if start < end else clock >= start or clock < end
        if not quiet:
            return None
        ends = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
        if ends <= local:
            ends += timedelta(days=1)
        return ends


ALL_FAMILIES = list(FAMILIES)


async def active_recipients(session: AsyncSession) -> list[Recipient]:
    """Chats that still take alerts; a private chat's panel user must exist and be enabled."""
    rows = await session.scalars(
        select(AlertRecipient)
        .outerjoin(User, User.id == AlertRecipient.user_id)
        .where(
            AlertRecipient.active.is_(True),
            (AlertRecipient.user_id.is_(None)) | (User.disabled_at.is_(None)),
        )
        .order_by(AlertRecipient.id)
    )
    return [Recipient.of(row) for row in rows]


async def recipients_for(
    session: AsyncSession, alert: Alert, everyone: list[Recipient], conversation_id: int | None
) -> list[Recipient]:
    """A lead's reply goes to the operator who took the conversation over from Telegram, only;
    everything else to the subscribers of its family."""
    if alert.kind == "conversation.reply":
        holder = await session.get(TelegramTakeover, conversation_id) if conversation_id else None
        return [r for r in everyone if holder is not None and r.id == holder.recipient_id]
    return [r for r in everyone if r.wants(alert)]


async def muted(session: AsyncSession, alert: Alert, now: datetime) -> str | None:
    """ "silenced" or "inhibited" when nobody should be told now; None otherwise."""
    silence = await session.scalar(
        select(AlertSilence.id)
        .where(
            AlertSilence.kind == alert.kind,
            AlertSilence.subject.in_(("", alert.subject)),
            AlertSilence.ends_at > now,
        )
        .limit(1)
    )
    if silence is not None:
        return "silenced"
    inhibitors = INHIBITED_BY.get(alert.kind)
    if inhibitors:
        firing = await session.scalar(
            select(Alert.id)
            .where(
                Alert.kind.in_(inhibitors),
                Alert.subject == alert.subject,
                Alert.state == "firing",
            )
            .limit(1)
        )
        if firing is not None:
            return "inhibited"
    return None
