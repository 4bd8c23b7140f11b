"""Putting people on the do-not-contact list, one or ten thousand at a time, in set-based SQL.

For each person: the contact row is marked (a person already on the list keeps their first
reason), nothing unsent to them goes, their live conversations end as opted out, one audit row
names who did it, and ``contact.opted_out`` is announced once, like an opt-out the lead asked for
(no confirmation is sent to them)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import Actor
from core.db.models import AuditEntry, Conversation, ConversationMessage
from core.events import ContactOptedOut, Event
from core.outbox import add_many_to_outbox
from manager import daily_counts, store
from manager.contacts import locked_contacts

CHUNK = 500  # users per IN (...) list: well under every driver's parameter limit


async def put_on_list(session: AsyncSession, actor: Actor, reasons: Mapping[int, str]) -> int:
    """Mark every user in ``reasons`` (user id → reason); returns how many were not on the list
    before. Runs in the caller's transaction."""
    users = sorted(reasons)
    now = datetime.now(UTC)
    added: list[int] = []
    for start in range(0, len(users), CHUNK):
        chunk = users[start : start + CHUNK]
        for user, contact in (await locked_contacts(session, chunk)).items():
            if not contact.do_not_contact:
                contact.do_not_contact = True
                contact.dnc_reason = reasons[user]
                contact.dnc_at = now
                added.append(user)
        await _stop_writing_to(session, chunk, reasons)
    session.add_all(
        AuditEntry(
            actor=actor.login,
            user_id=actor.user_id,
            channel=actor.channel,
            action="do_not_contact",
            tokens=0,
            detail={"telegram_user_id": user, "reason": reasons[user]},
        )
        for user in users
    )
    opted = (
        ContactOptedOut(
            telegram_user_id=user, campaign_id=None, conversation_id=None, reason=reasons[user]
        )
        for user in added
    )
    await add_many_to_outbox(session, [(Event.of(payload), None) for payload in opted])
    return len(added)


async def _stop_writing_to(
    session: AsyncSession, users: list[int], reasons: Mapping[int, str]
) -> None:
    ids = select(Conversation.id).where(Conversation.telegram_user_id.in_(users))
    await session.execute(
        update(ConversationMessage)
        .where(
            ConversationMessage.conversation_id.in_(ids),
            ConversationMessage.direction == "out",
            ConversationMessage.status.in_(("scheduled", "pending_approval")),
        )
        .values(status="cancelled", reason="do-not-contact list")
        .execution_options(synchronize_session=False)
    )
    by_reason: dict[str, list[int]] = {}
    for user in users:
        by_reason.setdefault(reasons[user], []).append(user)
    ended: list[int] = []  # the campaign of each conversation that ends, for the daily counts
    for reason, group in by_reason.items():  # a file usually has one reason, or a few
        ended += await session.scalars(
            update(Conversation)
            .where(Conversation.telegram_user_id.in_(group), Conversation.status.in_(store.LIVE))
            .values(status="opted_out", reason=f"do-not-contact list: {reason}")
            .returning(Conversation.campaign_id)
            .execution_options(synchronize_session=False)
        )
    await daily_counts.opted_out(session, ended, now=datetime.now(UTC))
