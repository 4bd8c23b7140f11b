"""The notifier's tables: linked Telegram accounts, who gets which alerts, the alert log, and the
Telegram messages that carry alerts (one message may carry a group of them).

The notifier service is their only writer; the admin API reads them (``GET /api/v1/alerts``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base, _now


class TelegramLink(Base):
    """A panel user's Telegram account: pressing a button there acts with the user's role."""

    __tablename__ = "telegram_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    telegram_name: Mapped[str] = mapped_column(String(160))
    code_nonce: Mapped[str] = mapped_column(String(32), unique=True)  # each code links once
    linked_at: Mapped[datetime] = _now()


class AlertRecipient(Base):
    """A chat the bot writes alerts to (a linked user's private chat or an operators' group),
    with its subscription: which kinds and campaigns, quiet hours, how new leads arrive."""

    __tablename__ = "alert_recipients"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # user | group
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(160))
    language: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    kinds: Mapped[list[str]] = mapped_column(default=list)  # families turned on
    campaign_ids: Mapped[list[int]] = mapped_column(default=list)  # empty = all
    quiet_from: Mapped[str | None] = mapped_column(String(5))  # "HH:MM" in ``timezone``
    quiet_to: Mapped[str | None] = mapped_column(String(5))
    new_leads: Mapped[str] = mapped_column(String(8), default="each")  # off | each | digest
    digest_minutes: Mapped[int] = mapped_column(Integer, default=15)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    stopped_reason: Mapped[str | None] = mapped_column(String(160))  # blocked the bot, unlinked
    created_at: Mapped[datetime] = _now()


class Alert(Base):
    """One alert in the log: from an event, the REST endpoint or Alertmanager. Repeats of a firing
    fingerprint within the repeat interval update this row instead of making another."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_fingerprint_state", "fingerprint", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(48), index=True)
    severity: Mapped[str] = mapped_column(String(16))  # info | warning | critical
    fingerprint: Mapped[str] = mapped_column(String(160))
    subject: Mapped[str] = mapped_column(String(96))  # what it is about: "account:3", "campaign:2"
    campaign_id: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(256))
    text: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(1024))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what the message shows and acts on
    state: Mapped[str] = mapped_column(String(16), default="firing")  # firing | resolved | handled
    outcome: Mapped[str | None] = mapped_column(String(160))  # "approved", "expired", …
    handled_by: Mapped[str | None] = mapped_column(String(64))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(16))  # event | api | alertmanager
    sender_user_id: Mapped[int | None] = mapped_column(Integer)  # the API token's user
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolve_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # ends by itself


class AlertMessage(Base):
    """One Telegram message in one recipient's chat, carrying one alert or a group of them.

    ``state``: pending (to send) → sending (handed to Telegram; a crash here is the one moment
    a repeat is possible, so it is marked when sent again) → sent; ``dirty`` asks for an edit
    (more alerts in the group, one handled or resolved). A group stays open to new alerts
    until ``closes_at``."""

    __tablename__ = "alert_messages"
    __table_args__ = (
        Index("ix_alert_messages_due", "state", "due_at"),
        Index("ix_alert_messages_open", "recipient_id", "group_key", "closes_at"),
        Index("ix_alert_messages_telegram", "chat_id", "telegram_message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("alert_recipients.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    group_key: Mapped[str] = mapped_column(String(160))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    dirty: Mapped[bool] = mapped_column(Boolean, default=False)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # next send or edit
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    alert_count: Mapped[int] = mapped_column(Integer, default=0)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    resent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    edited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AlertDelivery(Base):
    """An alert for one recipient: in which message it went (or why not), and what they did."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (Index("ix_alert_deliveries_alert_recipient", "alert_id", "recipient_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("alert_recipients.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_messages.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))  # queued | silenced | inhibited
    action: Mapped[str | None] = mapped_column(String(32))  # approved, rejected, taken_over, …
    acted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AlertSilence(Base):
    """No alerts of ``kind`` about ``subject`` (every subject when empty) until ``ends_at``."""

    __tablename__ = "alert_silences"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(48))
    subject: Mapped[str] = mapped_column(String(96), default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class TelegramTakeover(Base):
    """A conversation an operator took over from Telegram: the lead's new messages go to their
    chat, and their replies there go to the lead, until they hand it back."""

    __tablename__ = "telegram_takeovers"

    conversation_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("alert_recipients.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
