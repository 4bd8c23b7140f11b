"""The alert log as the notifier wrote it (``core.db.notifier_models``; the admin side only reads):
alerts newest first with, for each, who it went to, how that message fared and what each
recipient did; the recipients with their subscriptions; a user's Telegram link."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import User
from core.db.notifier_models import (
    Alert,
    AlertDelivery,
    AlertMessage,
    AlertRecipient,
    TelegramLink,
)

LIMIT_MAX = 200
STATES = ("firing", "resolved", "handled")


@dataclass(frozen=True)
class AlertFilter:
    kind: str | None = None
    state: str | None = None
    fingerprint: str | None = None
    since: datetime | None = None
    before: int | None = None  # an alert id: the page holds older ones only
    limit: int = 50


@dataclass(frozen=True)
class DeliveryView:
    recipient_id: int
    recipient: str  # the chat's title
    recipient_kind: str  # user | group
    login: str | None  # the linked panel user, for a user's chat
    status: str  # queued | silenced | inhibited
    message_state: str | None  # pending | sending | sent | … (None: no message, e.g. silenced)
    message_at: datetime | None  # sent, or last edited
    message_error: str | None
    action: str | None  # approved, rejected, taken_over, silenced …
    acted_at: datetime | None


@dataclass(frozen=True)
class AlertView:
    alert: Alert
    sender: str | None  # the API token's user, for an alert from outside
    deliveries: list[DeliveryView]


@dataclass(frozen=True)
class AlertPage:
    alerts: list[AlertView]
    next_before: int | None  # pass as ``before`` for the next (older) page


def _filtered(wanted: AlertFilter) -> Select[Alert]:
    query = select(Alert)
    if wanted.kind:
        query = query.where(Alert.kind == wanted.kind)
    if wanted.state:
        query = query.where(Alert.state == wanted.state)
    if wanted.fingerprint:
        query = query.where(Alert.fingerprint == wanted.fingerprint)
    if wanted.since is not None:
        query = query.where(Alert.created_at >= wanted.since)
    if wanted.before is not None:
        query = query.where(Alert.id < wanted.before)
    # ids grow with time: newest first, and ``before`` pages without skipping or repeating
    return query.order_by(Alert.id.desc())


async def alert_page(session: AsyncSession, wanted: AlertFilter) -> AlertPage:
    limit = max(1, min(wanted.limit, LIMIT_MAX))
    rows = list(await session.scalars(_filtered(wanted).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    views = await _with_deliveries(session, rows)
    return AlertPage(views, rows[-1].id if more and rows else None)


async def one_alert(session: AsyncSession, alert_id: int) -> AlertView | None:
    alert = await session.get(Alert, alert_id)
    if alert is None:
        return None
    return (await _with_deliveries(session, [alert]))[0]


async def _with_deliveries(session: AsyncSession, alerts: list[Alert]) -> list[AlertView]:
    if not alerts:
        return []
    query = (
        select(AlertDelivery, AlertRecipient, AlertMessage, User.login)
        .join(AlertRecipient, AlertRecipient.id == AlertDelivery.recipient_id)
        .outerjoin(AlertMessage, AlertMessage.id == AlertDelivery.message_id)
        .outerjoin(User, User.id == AlertRecipient.user_id)
        .where(AlertDelivery.alert_id.in_([a.id for a in alerts]))
        .order_by(AlertDelivery.id)
    )
    found: dict[int, list[DeliveryView]] = defaultdict(list)
    for delivery, recipient, message, login in (await session.execute(query)).all():
        found[delivery.alert_id].append(_delivery(delivery, recipient, message, login))
    senders = await _logins(session, {a.sender_user_id for a in alerts if a.sender_user_id})
    return [AlertView(a, senders.get(a.sender_user_id or 0), found.get(a.id, [])) for a in alerts]


def _delivery(
    delivery: AlertDelivery,
    recipient: AlertRecipient,
    message: AlertMessage | None,
    login: str | None,
) -> DeliveryView:
    return DeliveryView(
        recipient_id=recipient.id,
        recipient=recipient.title,
        recipient_kind=recipient.kind,
        login=login,
        status=delivery.status,
        message_state=message.state if message else None,
        message_at=(message.edited_at or message.sent_at) if message else None,
        message_error=message.last_error if message else None,
        action=delivery.action,
        acted_at=delivery.acted_at,
    )


async def _logins(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.login).where(User.id.in_(user_ids)))
    return {int(user_id): str(login) for user_id, login in rows.all()}


async def alert_kinds(session: AsyncSession) -> list[str]:
    """The kinds the log holds, for the filter."""
    return list(await session.scalars(select(Alert.kind).distinct().order_by(Alert.kind)))


@dataclass(frozen=True)
class RecipientView:
    recipient: AlertRecipient
    login: str | None


async def recipients(session: AsyncSession) -> list[RecipientView]:
    """Every chat the bot writes alerts to, active ones first."""
    query = (
        select(AlertRecipient, User.login)
        .outerjoin(User, User.id == AlertRecipient.user_id)
        .order_by(AlertRecipient.active.desc(), AlertRecipient.kind, AlertRecipient.title)
    )
    return [RecipientView(r, login) for r, login in (await session.execute(query)).all()]


async def telegram_link(session: AsyncSession, user_id: int) -> TelegramLink | None:
    link: TelegramLink | None = await session.scalar(
        select(TelegramLink).where(TelegramLink.user_id == user_id)
    )
    return link


async def alert_by_key(session: AsyncSession, key: str) -> int | None:
    """The alert an idempotency key already made, if the notifier stored it."""
    found: int | None = await session.scalar(select(Alert.id).where(Alert.idempotency_key == key))
    return found
