"""Operators' "is a lead" / "not a lead" on a lead, carried out by the parser (the one writer of
leads and their verdicts): the mark becomes the campaign's labelled example, the lead takes the
operator's verdict, and "is a lead" on a lead nobody wrote to sends it on to the manager.

All of it, with the audit row naming the person, is one transaction; the retrainer hears about
the mark only after it commits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.db.intent_models import IntentExample
from core.db.models import AuditEntry, Campaign, Lead
from core.events import Event, LeadMarked
from core.intent import policy_of
from core.lead_commands import LeadCommand, LeadCommandResult
from core.lead_found import found_again
from core.outbox import OutboxRelay, add_to_outbox

log = logging.getLogger(__name__)

# Verdicts the manager did not write to: "is a lead" on one of them announces the lead.
NOT_WRITTEN_TO = frozenset({"maybe", "ask", "not_lead"})


class LeadMarks:
    """Serves ``LeadCommand``; ``on_marked(campaign_id)`` is told of each committed mark of a
    campaign that learns from them (the retrainer)."""

    def __init__(
        self,
        db: Database,
        relay: OutboxRelay,
        on_marked: Callable[[int], None] | None = None,
    ) -> None:
        self._db = db
        self._relay = relay
        self._on_marked = on_marked

    async def handle(
        self, command: LeadCommand, *, correlation_id: uuid.UUID | None = None
    ) -> LeadCommandResult:
        async with self._db.transaction() as session:
            lead = await session.scalar(
                select(Lead).where(Lead.id == command.lead_id).with_for_update()
            )
            if lead is None:
                return LeadCommandResult(
                    outcome="missing", detail=f"lead {command.lead_id} does not exist"
                )
            campaign = await session.get(Campaign, lead.campaign_id)
            learns = campaign is not None and policy_of(campaign.intent).learn
            previous = lead.intent
            await _keep_example(session, lead, command)
            lead.intent = command.mark
            written_to = command.mark == "lead" and previous in NOT_WRITTEN_TO
            if written_to:
                found = found_again(lead, intent="lead")  # the manager writes to them, once
                await add_to_outbox(session, Event.of(found, correlation_id=correlation_id))
            marked = LeadMarked(
                lead_id=lead.id,
                campaign_id=lead.campaign_id,
                mark=command.mark,
                by=command.actor.login,
            )
            await add_to_outbox(session, Event.of(marked, correlation_id=correlation_id))
            _audit(session, lead, command, previous=previous, written_to=written_to)
            campaign_id = lead.campaign_id
        self._relay.poke()
        if learns and self._on_marked is not None:
            self._on_marked(campaign_id)
        log.info(
            "lead marked",
            extra={
                "lead_id": command.lead_id,
                "mark": command.mark,
                "previous": previous,
                "actor": command.actor.login,
                "written_to": written_to,
            },
        )
        return LeadCommandResult(outcome="done", intent=command.mark, written_to=written_to)


async def _keep_example(session: AsyncSession, lead: Lead, command: LeadCommand) -> None:
    """The lead's message as the campaign's example; a lead marked again keeps the newest mark
    (the lead row is locked, so two marks of one lead take turns here)."""
    example = await session.scalar(
        select(IntentExample).where(
            IntentExample.campaign_id == lead.campaign_id, IntentExample.lead_id == lead.id
        )
    )
    if example is None:
        example = IntentExample(campaign_id=lead.campaign_id, lead_id=lead.id)
        session.add(example)
    bio = (lead.profile or {}).get("bio")
    example.text = lead.text
    example.bio = bio if isinstance(bio, str) and bio.strip() else None
    example.label = command.mark == "lead"
    example.actor = command.actor.login
    example.created_at = datetime.now(UTC)


def _audit(
    session: AsyncSession,
    lead: Lead,
    command: LeadCommand,
    *,
    previous: str | None,
    written_to: bool,
) -> None:
    actor = command.actor
    session.add(
        AuditEntry(
            actor=actor.login,
            user_id=actor.user_id,
            channel=actor.channel,
            action="lead_marked",
            campaign_id=lead.campaign_id,
            lead_id=lead.id,
            tokens=0,
            detail={"mark": command.mark, "previous": previous, "written_to": written_to},
        )
    )
