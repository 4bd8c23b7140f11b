"""Events from the other services, turned into alerts (``NewAlert``) and settlements (``Settle``):
the outreach ones here (leads, drafts, hand-offs, replies), the accounts', workers', runs' and
monitoring's in ``notifier.system_alerts``; ``notifier.intake`` holds the table of both.

The alert keeps a snapshot of what its message shows (names, texts), so the alert log reads the
same later and rendering needs no other service's tables; ``title`` and ``text`` are the log's
English summary, the Telegram message is rendered per recipient language from ``data``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Campaign, ConversationMessage, Lead
from core.events import (
    ConversationHandedBack,
    ConversationHandoff,
    ConversationReply,
    DraftDecided,
    DraftPending,
    Event,
    LeadFound,
    LeadMarked,
)

DIALOGUE_TURNS = 8  # the last messages a hand-off alert shows
SYSTEM_ACTORS = ("manager", "system")


@dataclass
class NewAlert:
    kind: str
    fingerprint: str
    subject: str
    title: str
    at: datetime
    text: str = ""
    severity: str | None = None
    campaign_id: int | None = None
    link: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    resolve_at: datetime | None = None
    source: str = "event"
    sender_user_id: int | None = None
    idempotency_key: str | None = None
    conversation_id: int | None = None  # a reply goes only to whoever took this over


@dataclass
class Settle:
    """Firing alerts of ``kinds`` about ``subject`` (or with ``fingerprint``) are over."""

    state: str  # handled | resolved
    outcome: str
    at: datetime
    by: str | None = None
    kinds: tuple[str, ...] = ()
    subject: str | None = None
    fingerprint: str | None = None


Outcome = NewAlert | Settle
Translate = Callable[[AsyncSession, Event], Awaitable[list[Outcome]]]


def _person(lead: Lead | None) -> str:
    if lead is None:
        return "someone"
    profile = lead.profile or {}
    name = " ".join(p for p in (profile.get("first_name"), profile.get("last_name")) if p)
    if lead.username:
        return f"{name} (@{lead.username})" if name else f"@{lead.username}"
    return name or f"user {lead.telegram_user_id}"


async def _campaign_name(session: AsyncSession, campaign_id: int) -> str:
    name = await session.scalar(select(Campaign.name).where(Campaign.id == campaign_id))
    return name or f"campaign {campaign_id}"


async def _lead_data(
    session: AsyncSession, lead_id: int, seen: LeadFound | None = None
) -> dict[str, Any]:
    lead = await session.get(Lead, lead_id)
    if lead is None:  # deleted since (or never stored): what the event itself says
        data: dict[str, Any] = {"lead_id": lead_id, "person": "someone"}
        if seen is not None:
            data |= {
                "person": f"user {seen.telegram_user_id}",
                "telegram_user_id": seen.telegram_user_id,
                "chat": str(seen.chat_id),
                "lead_text": seen.text,
                "lead_link": seen.link,
                "keywords": seen.keywords,
            }
        return data
    return {
        "lead_id": lead.id,
        "person": _person(lead),
        "telegram_user_id": lead.telegram_user_id,
        "chat": lead.chat_ref or str(lead.chat_id),
        "lead_text": lead.text,
        "lead_link": lead.link,
        "keywords": list(lead.keywords or []),
    }


async def lead_found(session: AsyncSession, event: Event) -> list[Outcome]:
    """A new lead pages with the second stage's score and reason; one the stage was unsure of
    asks the operators when its campaign says so ("ask"). A "maybe" does not page: nobody is
    written to, nobody needs to act, and a busy operator finds them in the panel's leads list
    (the verdict filter) when they have time to teach the model."""
    found = event.payload_as(LeadFound)
    if not found.is_new and found.intent == "lead":
        # Someone said "lead" (the panel, the API) or the person wrote a clear request since:
        # a question about them is answered.
        fingerprint = f"lead:{found.lead_id}"
        at = event.occurred_at
        return [Settle("resolved", "resolved", at, kinds=("lead.ask",), fingerprint=fingerprint)]
    if not found.is_new:
        return []  # the same person again: the lead exists, nobody needs a second page
    if found.intent in ("maybe", "not_lead"):
        return []
    campaign = await _campaign_name(session, found.campaign_id)
    data = await _lead_data(session, found.lead_id, found) | {
        "campaign": campaign,
        "intent": found.intent,
        "score": found.score,
        "reason": found.reason,
    }
    asking = found.intent == "ask"
    title = f"Is this a lead? {data['person']} in {campaign}" if asking else None
    return [
        NewAlert(
            kind="lead.ask" if asking else "lead.new",
            fingerprint=f"lead:{found.lead_id}",
            subject=f"campaign:{found.campaign_id}",
            campaign_id=found.campaign_id,
            title=title or f"New lead in {campaign}: {data['person']}",
            text=found.text,
            link=found.link,
            data=data,
            at=event.occurred_at,
        )
    ]


async def lead_marked(session: AsyncSession, event: Event) -> list[Outcome]:
    """An operator marked the lead (in the panel, the API or another chat): its alert and any
    question about it are answered, by them."""
    marked = event.payload_as(LeadMarked)
    return [
        Settle(
            "handled",
            f"marked_{marked.mark}",
            event.occurred_at,
            by=marked.by,
            kinds=("lead.new", "lead.ask"),
            fingerprint=f"lead:{marked.lead_id}",
        )
    ]


async def draft_pending(session: AsyncSession, event: Event) -> list[Outcome]:
    draft = event.payload_as(DraftPending)
    campaign = await _campaign_name(session, draft.campaign_id)
    data = await _lead_data(session, draft.lead_id) | {
        "campaign": campaign,
        "message_id": draft.message_id,
        "conversation_id": draft.conversation_id,
        "draft": draft.text,
        "reason": draft.reason,
        "expires_at": draft.expires_at.isoformat(),
    }
    return [
        NewAlert(
            kind="draft.pending",
            fingerprint=f"draft:{draft.message_id}",
            subject=f"conversation:{draft.conversation_id}",
            campaign_id=draft.campaign_id,
            title=f"Draft to approve for {data['person']} ({campaign})",
            text=draft.text,
            data=data,
            at=event.occurred_at,
        )
    ]


async def draft_decided(session: AsyncSession, event: Event) -> list[Outcome]:
    decided = event.payload_as(DraftDecided)
    return [
        Settle(
            state="handled",
            outcome=decided.decision,
            by=decided.by if decided.by not in SYSTEM_ACTORS else None,
            at=decided.at,
            fingerprint=f"draft:{decided.message_id}",
        )
    ]


async def _dialogue(session: AsyncSession, conversation_id: int) -> list[dict[str, str]]:
    rows = await session.scalars(
        select(ConversationMessage)
        .where(
            ConversationMessage.conversation_id == conversation_id,
            ConversationMessage.status.in_(("received", "sent", "queued")),
        )
        .order_by(ConversationMessage.id.desc())
        .limit(DIALOGUE_TURNS)
    )
    return [{"from": m.direction, "text": m.text} for m in reversed(list(rows))]


async def conversation_handoff(session: AsyncSession, event: Event) -> list[Outcome]:
    handoff = event.payload_as(ConversationHandoff)
    subject = f"conversation:{handoff.conversation_id}"
    if handoff.by not in SYSTEM_ACTORS:
        # A person took it over: the drafts waiting in it are cancelled, nobody else need act.
        return [
            Settle(
                state="handled",
                outcome="taken_over",
                by=handoff.by,
                at=event.occurred_at,
                kinds=("draft.pending", "conversation.handoff"),
                subject=subject,
            )
        ]
    campaign = await _campaign_name(session, handoff.campaign_id)
    data = await _lead_data(session, handoff.lead_id) | {
        "campaign": campaign,
        "conversation_id": handoff.conversation_id,
        "reason": handoff.reason,
        "dialogue": await _dialogue(session, handoff.conversation_id),
    }
    return [
        NewAlert(
            kind="conversation.handoff",
            fingerprint=f"handoff:{handoff.conversation_id}",
            subject=subject,
            campaign_id=handoff.campaign_id,
            title=f"{data['person']} needs a person ({campaign})",
            text=handoff.reason,
            data=data,
            at=event.occurred_at,
        )
    ]


async def conversation_reply(session: AsyncSession, event: Event) -> list[Outcome]:
    reply = event.payload_as(ConversationReply)
    data = await _lead_data(session, reply.lead_id) | {
        "conversation_id": reply.conversation_id,
        "reply": reply.text,
    }
    return [
        NewAlert(
            kind="conversation.reply",
            fingerprint=f"reply:{reply.conversation_id}:{event.id}",
            subject=f"conversation:{reply.conversation_id}",
            campaign_id=reply.campaign_id,
            title=f"{data['person']} wrote",
            text=reply.text,
            data=data,
            at=event.occurred_at,
            conversation_id=reply.conversation_id,
        )
    ]


async def conversation_handed_back(session: AsyncSession, event: Event) -> list[Outcome]:
    back = event.payload_as(ConversationHandedBack)
    return [
        Settle(
            state="handled",
            outcome="handed_back",
            by=back.by,
            at=event.occurred_at,
            kinds=("conversation.handoff", "conversation.reply"),
            subject=f"conversation:{back.conversation_id}",
        )
    ]
