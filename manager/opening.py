"""Leads become conversations, a batch of them in one transaction.

The campaigns, the leads and any conversations they already have are read with one query each;
the contact registry settles every first-message claim at once; the new conversations go in with
one insert. Each lead comes back as an ``Opening`` (write its first message now), None (nothing
to write: done before, or skipped) or the error that can never let it succeed.

A lead whose campaign has no active manager account yet is parked as a ``waiting`` conversation;
when the campaign gets one, the same step opens it (``Conversations.resume_waiting``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.bus import PermanentError
from core.db.models import Conversation, Lead
from core.db.upsert import insert_ignore_many
from core.events import LeadFound
from manager import contacts, store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Opening:
    """A conversation in ``drafting`` whose first message is to be written."""

    conversation_id: int
    view: store.CampaignView
    lead: Lead
    resumed: bool = False  # a crash left it drafting: what was said so far is read again


Outcome = Opening | None | Exception
WAITING = "waiting"  # found while the campaign had no manager account to write from
NO_ACCOUNT = "no active manager account in the campaign yet"


@dataclass
class _Candidate:
    index: int
    view: store.CampaignView
    lead: Lead
    waiting: Conversation | None = None  # parked earlier: opened in place


async def open_conversations(
    session: AsyncSession, batch: Sequence[LeadFound], *, now: datetime
) -> list[Outcome]:
    lead_ids = {found.lead_id for found in batch}
    views = await store.campaigns(session, {found.campaign_id for found in batch})
    leads = {
        lead.id: lead for lead in await session.scalars(select(Lead).where(Lead.id.in_(lead_ids)))
    }
    # Locked: two managers resuming one waiting lead take turns.
    locked = await store.lock_conversations(session, Conversation.lead_id.in_(lead_ids))
    existing = {conversation.lead_id: conversation for conversation in locked}
    outcomes: list[Outcome] = [None] * len(batch)
    candidates: list[_Candidate] = []
    parked: list[_Candidate] = []
    accounts: dict[int, store.LeastBusy] = {}
    seen: set[int] = set()
    for index, found in enumerate(batch):
        if found.lead_id in seen:
            continue  # the same lead twice in one batch (a redelivery): the first does the work
        seen.add(found.lead_id)
        view = views.get(found.campaign_id)
        if view is None:
            outcomes[index] = PermanentError(f"campaign {found.campaign_id} does not exist")
            continue
        conversation = existing.get(found.lead_id)
        if conversation is not None and conversation.status != WAITING:
            outcomes[index] = _resumed(conversation, view, leads.get(found.lead_id))
            continue
        lead = leads.get(found.lead_id)
        if not view.active:
            continue
        if lead is None:
            outcomes[index] = PermanentError(f"lead {found.lead_id} does not exist")
            continue
        if view.id not in accounts:
            accounts[view.id] = store.LeastBusy(await store.manager_load(session, view.id))
        candidate = _Candidate(index, view, lead, waiting=conversation)
        if accounts[view.id]:
            candidates.append(candidate)
        elif conversation is None:
            parked.append(candidate)
    await _open_new(session, candidates, accounts, outcomes, now=now)
    await _park(session, parked, now=now)
    return outcomes


def _resumed(conversation: Conversation, view: store.CampaignView, lead: Lead | None) -> Outcome:
    """A conversation exists: its first message is still to write only when a crash left it so."""
    if conversation.status != "drafting" or conversation.turns != 0 or lead is None:
        return None
    return Opening(conversation.id, view, lead, resumed=True)


async def _open_new(
    session: AsyncSession,
    candidates: list[_Candidate],
    accounts: dict[int, store.LeastBusy],
    outcomes: list[Outcome],
    *,
    now: datetime,
) -> None:
    """Claim first contact for each candidate and insert its conversation (``skipped``, with the
    reason, when someone else may write first)."""
    if not candidates:
        return
    claims = [
        contacts.Claim(c.lead.telegram_user_id, c.view.id, c.view.policy.contact_window_days)
        for c in candidates
    ]
    refusals = await contacts.reserve_first_contacts(session, claims, now=now)
    rows: list[dict[str, Any]] = []
    for candidate, refusal in zip(candidates, refusals, strict=True):
        decided = {
            "account_id": accounts[candidate.view.id].take(counts=refusal is None),
            "status": "skipped" if refusal else "drafting",
            "reason": refusal,
            "updated_at": now,
        }
        if candidate.waiting is not None:
            for name, value in decided.items():
                setattr(candidate.waiting, name, value)
        else:
            rows.append(_row(candidate, now=now) | decided)
    made = await insert_ignore_many(session, Conversation, rows, returning=("id", "lead_id"))
    opened = {int(row.lead_id): int(row.id) for row in made}
    for candidate, refusal in zip(candidates, refusals, strict=True):
        waiting = candidate.waiting
        conversation_id = waiting.id if waiting is not None else opened.get(candidate.lead.id)
        if refusal is None and conversation_id is not None:
            outcomes[candidate.index] = Opening(conversation_id, candidate.view, candidate.lead)


async def _park(session: AsyncSession, parked: list[_Candidate], *, now: datetime) -> None:
    """Leads whose campaign has no manager account to write from wait as conversations."""
    if not parked:
        return
    rows = [
        _row(c, now=now) | {"account_id": None, "status": WAITING, "reason": NO_ACCOUNT}
        for c in parked
    ]
    await insert_ignore_many(session, Conversation, rows)
    names = sorted({c.view.name for c in parked})
    log.info("no active manager account in %s: %d lead(s) wait", ", ".join(names), len(parked))


def _row(candidate: _Candidate, *, now: datetime) -> dict[str, Any]:
    lead = candidate.lead
    return {
        "campaign_id": candidate.view.id,
        "lead_id": lead.id,
        "telegram_user_id": lead.telegram_user_id,
        "username": lead.username,
        "stage": None,
        "turns": 0,
        "created_at": now,
        "updated_at": now,
    }
