"""Which Telegram message an alert rides in, for one recipient.

An alert that people act on (a draft, a hand-off) gets a message of its own. Alerts of a grouped
family (new leads, account trouble, operations) share the family's open message in that chat:
the first one opens it, later ones within the window make it "dirty", and the courier edits it
("12 new leads …") instead of sending twelve. Leads in digest mode wait in a message that is sent
once, when its digest period ends. Quiet hours move when a new message is sent, except for
critical alerts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.notifier_models import Alert, AlertMessage
from notifier.alert_kinds import kind
from notifier.routing import Recipient

OPEN_STATES = ("pending", "sending", "sent")


def group_key(alert: Alert, recipient: Recipient) -> str | None:
    """The family's key when alerts share a message; None for a message of its own."""
    info = kind(alert.kind)
    if not info.grouped:
        return None
    if info.family == "leads" and recipient.new_leads == "digest":
        return "leads:digest"
    return info.family


async def attach(
    session: AsyncSession,
    recipient: Recipient,
    alert: Alert,
    *,
    now: datetime,
    window: timedelta,
) -> AlertMessage:
    """The message carrying ``alert`` in ``recipient``'s chat (opened or joined)."""
    key = group_key(alert, recipient)
    if key is not None:
        joined = await _open_message(session, recipient.id, key, now)
        if joined is not None:
            joined.alert_count += 1
            if joined.state in ("sending", "sent") and not joined.dirty:
                joined.dirty, joined.due_at = True, now  # the courier paces the edit
            return joined
    due = now
    if alert.severity != "critical":
        due = recipient.quiet_until(now) or now
    closes = now
    if key == "leads:digest":
        due = max(due, now + timedelta(minutes=recipient.digest_minutes))
        closes = due
    elif key is not None:
        closes = now + window
    message = AlertMessage(
        recipient_id=recipient.id,
        chat_id=recipient.chat_id,
        group_key=key or f"alert:{alert.id}",
        state="pending",
        dirty=False,
        due_at=due,
        closes_at=closes,
        alert_count=1,
        attempts=0,
        resent=False,
        created_at=now,
    )
    session.add(message)
    await session.flush()
    return message


async def _open_message(
    session: AsyncSession, recipient_id: int, key: str, now: datetime
) -> AlertMessage | None:
    return await session.scalar(
        select(AlertMessage)
        .where(
            AlertMessage.recipient_id == recipient_id,
            AlertMessage.group_key == key,
            AlertMessage.closes_at > now,
            AlertMessage.state.in_(OPEN_STATES),
        )
        .order_by(AlertMessage.id.desc())
        .limit(1)
        .with_for_update()
    )
