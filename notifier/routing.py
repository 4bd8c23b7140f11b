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


class Mutes:
    """Silences and inhibitions for a batch, read once: which alerts nobody is told about now."""

    def __init__(self, silences: list[tuple[str, str]], inhibiting: set[tuple[str, str]]) -> None:
        self._silences = silences  # (kind, subject); an empty subject silences every subject
        self._inhibiting = inhibiting  # (kind, subject) of firing alerts that inhibit others

    @classmethod
    async def load(cls, session: AsyncSession, alerts: list[Alert], now: datetime) -> Mutes:
        silences = (
            await session.execute(
                select(AlertSilence.kind, AlertSilence.subject).where(AlertSilence.ends_at > now)
            )
        ).all()
        inhibitors = {k for a in alerts for k in INHIBITED_BY.get(a.kind, ())}
        inhibiting: set[tuple[str, str]] = set()
        if inhibitors:
            firing = await session.execute(
                select(Alert.kind, Alert.subject).where(
                    Alert.kind.in_(inhibitors), Alert.state == "firing"
                )
            )
            inhibiting = {(k, s) for k, s in firing.all()}
        return cls([(k, s) for k, s in silences], inhibiting)

    def why(self, alert: Alert) -> str | None:
        """ "silenced" or "inhibited" when nobody should be told now; None otherwise."""
        if any(k == alert.kind and s in ("", alert.subject) for k, s in self._silences):
            return "silenced"
        if any((k, alert.subject) in self._inhibiting for k in INHIBITED_BY.get(alert.kind, ())):
            return "inhibited"
        return None


async def holders(session: AsyncSession, conversation_ids: set[int]) -> dict[int, int]:
    """The recipient holding each of these conversations (taken over from Telegram)."""
    if not conversation_ids:
        return {}
    rows = await session.execute(
        select(TelegramTakeover.conversation_id, TelegramTakeover.recipient_id).where(
            TelegramTakeover.conversation_id.in_(conversation_ids)
        )
    )
    return {int(c): int(r) for c, r in rows.all()}


def recipients_for(alert: Alert, everyone: list[Recipient], holder: int | None) -> list[Recipient]:
    """A lead's reply goes to the operator who took the conversation over from Telegram, only;
    everything else to the subscribers of its family."""
    if alert.kind == "conversation.reply":
        return [r for r in everyone if r.id == holder]
    return [r for r in everyone if r.wants(alert)]
