"""A run's history (the seed's scripts_watcher): every step it took, kept beside the run, and the
``run.ended`` event the notifier turns into an alert."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from core.db.scene_models import SceneRun, SceneRunEvent
from core.events import Event, RunEnded
from core.outbox import add_to_outbox

# started, line_sent, waiting, listening, heard, silent, flood_wait, delayed, paused, resumed,
# lead, finished, failed, cancelled
Kind = str
Outcome = Literal["finished", "failed", "cancelled"]


def note(
    session: AsyncSession,
    run: SceneRun,
    kind: Kind,
    at: datetime,
    *,
    line: int | None = None,
    **detail: Any,
) -> None:
    session.add(SceneRunEvent(run_id=run.id, kind=kind, line=line, detail=detail, at=at))


async def end(
    session: AsyncSession,
    run: SceneRun,
    outcome: Outcome,
    at: datetime,
    *,
    scene_name: str,
    reason: str = "",
) -> None:
    """The run is over: its state, its history, and ``run.ended`` for the operators."""
    run.status = outcome
    run.reason = reason or None
    run.ended_at = at
    run.next_at = None
    run.updated_at = at
    note(session, run, outcome, at, reason=reason)
    ended = RunEnded(
        run_id=run.id, scene=scene_name, chat=run.chat_ref, outcome=outcome, reason=reason
    )
    await add_to_outbox(session, Event.of(ended))
