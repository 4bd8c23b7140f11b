"""What one alert message needs to be rendered: its alerts, its chat's language and time zone,
and the conversations that chat took over."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.notifier_models import (
    Alert,
    AlertDelivery,
    AlertMessage,
    AlertRecipient,
    TelegramTakeover,
)
from notifier.rendering import View
from notifier.texts import Texts


async def alerts_of(session: AsyncSession, message_id: int) -> list[Alert]:
    rows = await session.scalars(
        select(Alert)
        .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
        .where(AlertDelivery.message_id == message_id)
        .order_by(Alert.id)
    )
    return list(rows)


async def texts_for(session: AsyncSession, recipient_id: int) -> Texts:
    recipient = await session.get(AlertRecipient, recipient_id)
    if recipient is None:
        return Texts()
    return Texts(recipient.language, recipient.timezone)


async def held_conversations(session: AsyncSession, recipient_id: int) -> frozenset[int]:
    rows = await session.scalars(
        select(TelegramTakeover.conversation_id).where(
            TelegramTakeover.recipient_id == recipient_id
        )
    )
    return frozenset(rows)


async def load_view(
    session: AsyncSession, message: AlertMessage, *, panel_url: str
) -> tuple[list[Alert], View] | None:
    alerts = await alerts_of(session, message.id)
    if not alerts:
        return None
    view = View(
        texts=await texts_for(session, message.recipient_id),
        panel_url=panel_url,
        holds_conversation=await held_conversations(session, message.recipient_id),
        resent=message.resent,
        now=datetime.now(UTC),
    )
    return alerts, view
