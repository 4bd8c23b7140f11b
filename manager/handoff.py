"""A person takes over: does a reply ask for one, and what handing a conversation off does.

Phrases match as whole word sequences, case and punctuation aside, so "operator" inside another
word does not hand a conversation off."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Conversation, ConversationMessage
from core.events import ConversationHandoff, Event
from core.outbox import add_to_outbox
from manager import store
from manager.optout import normalise_words


def asks_for_human(text: str, phrases: Iterable[str]) -> bool:
    words = normalise_words(text)
    for phrase in phrases:
        wanted = normalise_words(phrase)
        size = len(wanted)
        if size and any(words[i : i + size] == wanted for i in range(len(words) - size + 1)):
            return True
    return False


async def handoff(
    session: AsyncSession,
    conversation: Conversation,
    *,
    reason: str,
    by: str,
    user_id: int | None = None,
    channel: str | None = None,
) -> None:
    """Stop automatic replies; a person takes the conversation from here. ``user_id`` and
    ``channel`` name the authenticated person when an operator took it over."""
    if conversation.status == "handoff":
        return
    conversation.status = "handoff"
    conversation.reason = reason
    await cancel_pending(
        session, conversation.telegram_user_id, reason="handed off", only=conversation.id
    )
    payload = ConversationHandoff(
        conversation_id=conversation.id,
        campaign_id=conversation.campaign_id,
        lead_id=conversation.lead_id,
        reason=reason,
        by=by,
    )
    await add_to_outbox(session, Event.of(payload))
    await store.audit(
        session,
        "handoff",
        actor=by,
        user_id=user_id,
        channel=channel,
        conversation=conversation,
        reason=reason,
    )


async def cancel_pending(
    session: AsyncSession, user_id: int, *, reason: str, only: int | None = None
) -> None:
    """Unsent messages to ``user_id`` (in every campaign, or one conversation) will not go."""
    ids = select(Conversation.id).where(Conversation.telegram_user_id == user_id)
    if only is not None:
        ids = ids.where(Conversation.id == only)
    await session.execute(
        update(ConversationMessage)
        .where(
            ConversationMessage.conversation_id.in_(ids),
            ConversationMessage.direction == "out",
            ConversationMessage.status.in_(("scheduled", "pending_approval")),
        )
        .values(status="cancelled", reason=reason)
    )
