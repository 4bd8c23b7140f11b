"""What one alert message needs to be rendered: its alerts, its chat's language and time zone,
and the conversations that chat took over."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Campaign
from core.db.notifier_models import (
    Alert,
    AlertDelivery,
    AlertMessage,
    AlertRecipient,
    TelegramTakeover,
)
from notifier.rendering import View
from notifier.rendering_groups import SHOWN, GroupSummary
from notifier.texts import Texts


async def alerts_of(
    session: AsyncSession, message_id: int, *, last: int | None = None
) -> list[Alert]:
    """The message's alerts, oldest first (only the ``last`` newest, when given)."""
    query = (
        select(Alert)
        .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
        .where(AlertDelivery.message_id == message_id)
        .order_by(Alert.id.desc())
    )
    rows = list(await session.scalars(query.limit(last) if last else query))
    return rows[::-1]


async def group_summary(session: AsyncSession, message_id: int) -> GroupSummary:
    """Totals of a grouped message, counted in the database (a storm's message carries
    thousands of alerts; the text shows the last ten and the counts)."""
    counted = await session.execute(
        select(Alert.campaign_id, func.count())
        .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
        .where(AlertDelivery.message_id == message_id)
        .group_by(Alert.campaign_id)
    )
    per_id = {campaign: int(n) for campaign, n in counted.all()}
    known = {c for c in per_id if c is not None}
    names = (
        dict(
            (
                await session.execute(
                    select(Campaign.id, Campaign.name).where(Campaign.id.in_(known))
                )
            ).all()
        )
        if known
        else {}
    )
    per_campaign = sorted(
        (
            (names.get(c, f"campaign {c}") if c is not None else "None", n)
            for c, n in per_id.items()
        ),
        key=lambda pair: -pair[1],
    )
    return GroupSummary(sum(per_id.values()), per_campaign)


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
    grouped = not message.group_key.startswith("alert:")
    alerts = await alerts_of(session, message.id, last=SHOWN if grouped else None)
    if not alerts:
        return None
    summary = await group_summary(session, message.id) if grouped else None
    view = View(
        texts=await texts_for(session, message.recipient_id),
        panel_url=panel_url,
        holds_conversation=await held_conversations(session, message.recipient_id),
        resent=message.resent,
        now=datetime.now(UTC),
        summary=summary,
    )
    return alerts, view
