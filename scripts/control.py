"""Pause, resume and cancel: a person's hand on a run, each one transaction with its history.

Pausing keeps the position and how long the current wait had left; a line already handed to its
account still goes out (Telegram cannot be asked to take it back) and is recorded. Cancelling ends
the run for good.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.scene_models import RUN_OVER, Scenario, SceneRun
from core.events import as_utc
from core.scene_commands import SceneCommand, SceneResult
from scripts import history


async def _locked(session: AsyncSession, run_id: int) -> SceneRun | None:
    return await session.scalar(select(SceneRun).where(SceneRun.id == run_id).with_for_update())


async def change_run(session: AsyncSession, command: SceneCommand, now: datetime) -> SceneResult:
    run = await _locked(session, command.run_id or 0)
    if run is None:
        return SceneResult(outcome="missing", detail=f"run {command.run_id} does not exist")
    by = command.actor.login
    if run.status in RUN_OVER:
        return SceneResult(outcome="conflict", detail=f"run {run.id} is already {run.status}")
    if command.action == "pause":
        if run.status == "paused":
            return SceneResult(outcome="conflict", detail=f"run {run.id} is already paused")
        left = (as_utc(run.next_at) - now).total_seconds() if run.next_at else 0.0
        run.state = {**run.state, "paused_from": run.status, "paused_left": max(left, 0.0)}
        run.status, run.next_at = "paused", None
        history.note(session, run, "paused", now, by=by)
    elif command.action == "resume":
        if run.status != "paused":
            return SceneResult(outcome="conflict", detail=f"run {run.id} is not paused")
        state = dict(run.state)
        run.status = str(state.pop("paused_from", "playing"))
        run.next_at = now + timedelta(seconds=float(state.pop("paused_left", 0.0)))
        run.state = state
        history.note(session, run, "resumed", now, by=by)
    else:
        name = await session.scalar(select(Scenario.name).where(Scenario.id == run.scenario_id))
        reason = f"cancelled by {by}"
        await history.end(session, run, "cancelled", now, scene_name=name or "", reason=reason)
    run.updated_at = now
    return SceneResult(outcome="done", detail=f"run {run.id} is {run.status}", run_ids=[run.id])
