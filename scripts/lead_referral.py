"""A scene's ``lead CAMPAIGN`` step: the member the listen heard becomes that campaign's lead.

The parser is the only writer of leads, so the scene publishes ``lead.referred`` with the
member's message as heard, and the parser records it as if the campaign's keywords had matched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.db.scene_models import SceneRun
from core.events import Event, LeadReferred, MessageIncoming
from core.outbox import add_to_outbox
from scripts import history
from scripts.scenario import LeadAt


async def refer_member(session: AsyncSession, run: SceneRun, step: LeadAt, now: datetime) -> None:
    member: dict[str, Any] = run.state.get("member") or {}
    heard = member.get("message")
    if not heard:  # the scene checks this cannot happen; a run from an older version might
        history.note(session, run, "lead", now, line=step.line, skipped="nobody was heard")
        return
    message = MessageIncoming.model_validate(heard)
    referral = LeadReferred(campaign=step.campaign, reason=f"scene run {run.id}", message=message)
    await add_to_outbox(session, Event.of(referral))
    history.note(session, run, "lead", now, line=step.line, campaign=step.campaign)
