"""Turn keyword hits into leads: one lead per Telegram user per campaign, one hit per message.

The lead row, the hit row and the ``lead.found`` event (through the outbox) are written in the
caller's transaction, so they exist together or not at all. A redelivered message finds its hit
already recorded and changes nothing.

With the second stage on, each campaign's hit comes with its verdict (``IntentMark``). A lead's
verdict only goes up — a "maybe" becomes a "lead" when the person later writes a clear request,
a "lead" never falls back — and an operator's "not_lead" is never overwritten: such a lead's new
hits are recorded, but the manager hears nothing of them. ``lead.found`` carries the lead's
verdict after the hit (the one the manager must act on), with the score and reason behind it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Lead, LeadHit
from core.db.upsert import insert_ignore
from core.events import Event, LeadFound, MessageIncoming
from core.intent import IntentVerdict
from core.outbox import add_many_to_outbox
from parser.matcher import Hit

OPERATORS_WORD: IntentVerdict = "not_lead"  # set by an operator only: the parser never changes it
_RANK: dict[str | None, int] = {"maybe": 1, "ask": 1, "lead": 2, None: 2}  # None: stage off


@dataclass(frozen=True, slots=True)
class IntentMark:
    """A verdict as a lead stores it (``leads.intent``, ``intent_score``, ``intent_reason``)."""

    intent: IntentVerdict | None
    score: float | None = None
    reason: str | None = None


NO_VERDICT = IntentMark(None)

# Core statements on the table: the ORM's per-statement bookkeeping cost more than the SQL (one
# of these runs for every keyword hit in every chat).
_LEADS = cast(Table, Lead.__table__)
_LOCK_LEAD = (
    select(
        _LEADS.c.id,
        _LEADS.c.intent,
        _LEADS.c.intent_score,
        _LEADS.c.intent_reason,
        _LEADS.c.keywords,
    )
    .where(
        _LEADS.c.campaign_id == bindparam("campaign_id"),
        _LEADS.c.telegram_user_id == bindparam("user_id"),
    )
    .with_for_update()
)


def settle(current: IntentMark, new: IntentMark | None) -> IntentMark | None:
    """What a repeat hit changes on a lead's verdict: the new mark, or None for no change.

    Only up: maybe/ask → lead. At the same level a higher score replaces the evidence (the
    verdict's label stays: a "maybe" does not turn into an "ask" because a policy changed). A
    hit with no verdict (the stage off) and an operator's "not_lead" change nothing.
    """
    if new is None or new.intent is None or current.intent == OPERATORS_WORD:
        return None
    now, then = _RANK[new.intent], _RANK[current.intent]
    if now > then:
        return new
    better = new.score is not None and (current.score is None or new.score > current.score)
    if now == then and better:
        return IntentMark(current.intent or new.intent, new.score, new.reason)
    return None


# One message's keyword hits with each campaign's verdict (a campaign missing has its stage off).
HitsOf = tuple[MessageIncoming, list[Hit], Mapping[int, IntentMark]]


async def record_hits(
    session: AsyncSession,
    message: MessageIncoming,
    hits: list[Hit],
    *,
    correlation_id: uuid.UUID | None,
    intents: Mapping[int, IntentMark] | None = None,
) -> list[LeadFound]:
    """Record every campaign's hit on ``message`` with that campaign's verdict (``intents``; a
    campaign missing there has its stage off); returns the lead.found payloads queued."""
    return await record_batch(
        session, [(message, hits, intents or {})], correlation_id=correlation_id
    )


async def record_batch(
    session: AsyncSession, batch: Sequence[HitsOf], *, correlation_id: uuid.UUID | None
) -> list[LeadFound]:
    """``record_hits`` for many messages in one transaction, their ``lead.found`` events in one
    statement. People are taken in one order (a person's messages in the order given), so two
    batches locking the same leads wait for each other instead of deadlocking."""
    found: list[LeadFound] = []
    for message, hits, intents in sorted(batch, key=lambda item: item[0].sender.user_id):
        found += await _record(session, message, hits, intents)
    events = [(Event.of(payload, correlation_id=correlation_id), None) for payload in found]
    await add_many_to_outbox(session, events)
    return found


async def _record(
    session: AsyncSession,
    message: MessageIncoming,
    hits: list[Hit],
    intents: Mapping[int, IntentMark],
) -> list[LeadFound]:
    found = []
    for campaign_id, keywords in _by_campaign(hits).items():
        mark = intents.get(campaign_id)
        lead = await _lead_for(session, campaign_id, message, keywords, mark or NO_VERDICT)
        hit_id = await insert_ignore(
            session,
            LeadHit,
            {
                "lead_id": lead.id,
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
        verdict = lead.mark
        if not lead.is_new:
            verdict = await _extend(session, lead, message, keywords, mark)
        if verdict.intent == OPERATORS_WORD:
            continue  # an operator said "not a lead": recorded, nobody is told
        found.append(
            LeadFound(
                lead_id=lead.id,
                campaign_id=campaign_id,
                telegram_user_id=message.sender.user_id,
                chat_id=message.chat_id,
                message_id=message.message_id,
                text=message.text,
                link=message.link,
                keywords=keywords,
                is_new=lead.is_new,
                intent=verdict.intent,
                score=verdict.score,
                reason=verdict.reason,
            )
        )
    return found


def _by_campaign(hits: list[Hit]) -> dict[int, list[str]]:
    merged: dict[int, list[str]] = {}
    for hit in hits:
        if hit.campaign_id is None:
            continue
        keywords = merged.setdefault(hit.campaign_id, [])
        keywords += [k for k in hit.keywords if k not in keywords]
    return dict(sorted(merged.items()))  # leads locked in one order by every transaction


@dataclass(frozen=True, slots=True)
class _Lead:
    id: int
    is_new: bool
    mark: IntentMark  # its verdict before this hit (for a new lead: this hit's)
    keywords: list[str]


async def _lead_for(
    session: AsyncSession,
    campaign_id: int,
    message: MessageIncoming,
    keywords: list[str],
    mark: IntentMark,
) -> _Lead:
    """The lead, created with this hit's verdict when this user is new to the campaign."""
    now = datetime.now(UTC)
    new_id = await insert_ignore(
        session,
        Lead,
        {
            "campaign_id": campaign_id,
            "telegram_user_id": message.sender.user_id,
            "username": message.sender.username,
            "profile": message.sender.model_dump(mode="json"),
            **_message_fields(message),
            "keywords": keywords,
            "hits": 1,
            "status": "new",
            "intent": mark.intent,
            "intent_score": mark.score,
            "intent_reason": mark.reason,
            "first_seen_at": now,
            "last_seen_at": now,
        },
        returning=Lead.id,
    )
    if new_id is not None:
        return _Lead(int(new_id), True, mark, keywords)
    # Locked: two hits of one person (or an operator's mark) must not both read the old verdict.
    person = {"campaign_id": campaign_id, "user_id": message.sender.user_id}
    row = (await session.execute(_LOCK_LEAD, person)).one()  # the conflict made it exist
    current = IntentMark(row.intent, row.intent_score, row.intent_reason)
    return _Lead(row.id, False, current, list(row.keywords or []))


def _message_fields(message: MessageIncoming) -> dict[str, Any]:
    return {
        "chat_id": message.chat_id,
        "chat_ref": message.chat_ref,
        "message_id": message.message_id,
        "text": message.text,
        "link": message.link,
    }


async def _extend(
    session: AsyncSession,
    lead: _Lead,
    message: MessageIncoming,
    keywords: list[str],
    mark: IntentMark | None,
) -> IntentMark:
    """A repeat hit: count it, remember new keywords and the newest profile, raise the verdict
    if this message earns it; returns the lead's verdict after the hit."""
    values: dict[str, Any] = {
        "hits": _LEADS.c.hits + 1,
        "last_seen_at": datetime.now(UTC),
        "keywords": lead.keywords + [k for k in keywords if k not in lead.keywords],
        "profile": message.sender.model_dump(mode="json"),
    }
    settled = settle(lead.mark, mark)
    if settled is not None:
        values |= {
            "intent": settled.intent,
            "intent_score": settled.score,
            "intent_reason": settled.reason,
        }
        if _RANK[lead.mark.intent] < _RANK[settled.intent]:
            # The first DM answers the message that made them a lead, not an earlier one.
            values |= _message_fields(message)
    await session.execute(update(_LEADS).where(_LEADS.c.id == lead.id).values(**values))
    return settled or lead.mark
