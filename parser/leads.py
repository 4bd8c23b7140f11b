"""Turn keyword hits into leads: one lead per Telegram user per campaign, one hit per message.

The lead row, the hit row and the ``lead.found`` event (through the outbox) are written in the
caller's transaction, so they exist together or not at all. A redelivered message finds its hit
already recorded and changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Lead, LeadHit
from core.db.upsert import insert_ignore
from core.events import Event, LeadFound, MessageIncoming
from core.outbox import add_to_outbox
from parser.matcher import Hit


async def record_hits(
    session: AsyncSession,
    message: MessageIncoming,
    hits: list[Hit],
    *,
    correlation_id: uuid.UUID | None,
) -> list[LeadFound]:
    """Record every campaign's hit on ``message``; returns the lead.found payloads queued."""
    found = []
    for campaign_id, keywords in _by_campaign(hits).items():
        lead_id, is_new = await _lead_for(session, campaign_id, message, keywords)
        hit_id = await insert_ignore(
            session,
            LeadHit,
            {
                "lead_id": lead_id,
                "chat_id": message.chat_id,
                "message_id": message.message_id,
                "text": message.text,
                "link": message.link,
                "keywords": keywords,
                "seen_at": datetime.now(UTC),
            },
            returning=LeadHit.id,
        )
        if hit_id is None:
            continue  # this message was already counted: a redelivery
        if not is_new:
            await _extend(session, lead_id, message, keywords)
        payload = LeadFound(
            lead_id=lead_id,
            campaign_id=campaign_id,
            telegram_user_id=message.sender.user_id,
            chat_id=message.chat_id,
            message_id=message.message_id,
            text=message.text,
            link=message.link,
            keywords=keywords,
            is_new=is_new,
        )
        await add_to_outbox(session, Event.of(payload, correlation_id=correlation_id))
        found.append(payload)
    return found


def _by_campaign(hits: list[Hit]) -> dict[int, list[str]]:
    merged: dict[int, list[str]] = {}
    for hit in hits:
        if hit.campaign_id is None:
            continue
        keywords = merged.setdefault(hit.campaign_id, [])
        keywords += [k for k in hit.keywords if k not in keywords]
    return merged


async def _lead_for(
    session: AsyncSession, campaign_id: int, message: MessageIncoming, keywords: list[str]
) -> tuple[int, bool]:
    """The lead's id, creating it when this user is new to the campaign."""
    now = datetime.now(UTC)
    new_id = await insert_ignore(
        session,
        Lead,
        {
            "campaign_id": campaign_id,
            "telegram_user_id": message.sender.user_id,
            "username": message.sender.username,
            "profile": message.sender.model_dump(mode="json"),
            "chat_id": message.chat_id,
            "chat_ref": message.chat_ref,
            "message_id": message.message_id,
            "text": message.text,
            "link": message.link,
            "keywords": keywords,
            "hits": 1,
            "status": "new",
            "first_seen_at": now,
            "last_seen_at": now,
        },
        returning=Lead.id,
    )
    if new_id is not None:
        return int(new_id), True
    existing = await session.scalar(
        select(Lead.id).where(
            Lead.campaign_id == campaign_id, Lead.telegram_user_id == message.sender.user_id
        )
    )
    assert existing is not None  # noqa: S101 - the conflicting row exists in this transaction
    return existing, False


async def _extend(
    session: AsyncSession, lead_id: int, message: MessageIncoming, keywords: list[str]
) -> None:
    """A repeat hit: count it, remember new keywords and the newest profile."""
    known = await session.scalar(select(Lead.keywords).where(Lead.id == lead_id))
    merged = list(known or []) + [k for k in keywords if k not in (known or [])]
    await session.execute(
        update(Lead)
        .where(Lead.id == lead_id)
        .values(
            hits=Lead.hits + 1,
            last_seen_at=datetime.now(UTC),
            keywords=merged,
            profile=message.sender.model_dump(mode="json"),
        )
    )
