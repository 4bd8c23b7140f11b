"""Which Telegram message an alert rides in, for each recipient — for a batch of alerts at once.

An alert that people act on (a draft, a hand-off) gets a message of its own. Alerts of a grouped
family (new leads, account trouble, operations) share the family's open message in that chat:
the first one opens it, later ones within the window make it "dirty", and the courier edits it
("12 new leads …") instead of sending twelve. Leads in digest mode wait in a message that is sent
once, when its digest period ends. Quiet hours move when a new message is sent, except for
critical alerts.

The open messages a batch needs are read (and locked) in one query, new ones written in one
flush: a storm of alerts costs a few statements per batch, not several per alert.
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
    if not info.grouped or (info.family == "alerts" and alert.severity == "critical"):
        return None
    if info.family == "leads" and recipient.new_leads == "digest":
        return "leads:digest"
    return info.family


class MessagePlan:
    """The messages of one batch: open ones joined, new ones opened."""

    def __init__(self, session: AsyncSession, *, now: datetime, window: timedelta) -> None:
        self._session = session
        self._now = now
        self._window = window
        self._open: dict[tuple[int, str], AlertMessage] = {}

    async def load(self, pairs: set[tuple[int, str]]) -> None:
        """Read and lock the open grouped messages these (recipient, key) pairs may join."""
        if not pairs:
            return
        rows = await self._session.scalars(
            select(AlertMessage)
            .where(
                AlertMessage.recipient_id.in_({r for r, _ in pairs}),
                AlertMessage.group_key.in_({k for _, k in pairs}),
                AlertMessage.closes_at > self._now,
                AlertMessage.state.in_(OPEN_STATES),
            )
            .order_by(AlertMessage.id)
            .with_for_update()
        )
        for row in rows:
            self._open[(row.recipient_id, row.group_key)] = row  # the newest wins

    def place(self, recipient: Recipient, alert: Alert) -> AlertMessage:
        """The message carrying ``alert`` in ``recipient``'s chat (joined or new, not flushed)."""
        key = group_key(alert, recipient)
        if key is not None:
            joined = self._open.get((recipient.id, key))
            if joined is not None:
                joined.alert_count += 1
                if joined.state in ("sending", "sent") and not joined.dirty:
                    joined.dirty, joined.due_at = True, self._now  # the courier paces the edit
                elif alert.severity == "critical":
                    joined.due_at = min(joined.due_at, self._now)  # not held by quiet hours
                return joined
        message = self._new(recipient, alert, key)
        if key is not None:
            self._open[(recipient.id, key)] = message
        self._session.add(message)
        return message

    def _new(self, recipient: Recipient, alert: Alert, key: str | None) -> AlertMessage:
        now = self._now
        due = now if alert.severity == "critical" else (recipient.quiet_until(now) or now)
        closes = now
        if key == "leads:digest":
            due = max(due, now + timedelta(minutes=recipient.digest_minutes))
            closes = due
        elif key is not None:
            closes = now + self._window
        return AlertMessage(
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
