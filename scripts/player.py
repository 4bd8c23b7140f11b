"""Plays a run forward from its position until it has to wait: for a line's confirmation, a
pause, a member, a limit — or until the scene ends.

The run's row is locked by the caller; everything here happens in the caller's transaction, so a
crash leaves the run exactly where its last commit put it. ``state`` keeps what the position
needs: ``awaiting`` (the line whose confirmation the run waits for), ``retry_pc`` (a line handed
back by a long FloodWait goes again from there), ``wait_pc`` (a pause was drawn
for this position), ``listen_pc`` / ``listen_until`` (listening), ``member`` (whom the last
listen heard). Pauses are drawn from the run's seed and position, so a resumed run draws the same.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.db.scene_models import SceneRun
from core.events import as_utc
from scripts import history
from scripts.lead_referral import refer_member
from scripts.lines import Broken, Later, Pacing, Queued, Skipped, queue_line
from scripts.scenario import JumpTo, LeadAt, ListenAt, SayAt, Scene, StopAt, WaitAt


@dataclass(frozen=True)
class Stage:
    """What playing needs besides the run: the scene, the clock, the pacing."""

    session: AsyncSession
    scene: Scene
    scene_name: str
    now: datetime
    pacing: Pacing
    due: datetime | None = None  # when the run was due to move on (advance sets it)
    # What members said before a listen began (after the line before it): a quick answer
    # counts even when it reached us before that line's confirmation did.
    heard_already: Callable[[SceneRun, ListenAt, Stage], Awaitable[bool]] | None = None


def set_state(run: SceneRun, **changes: Any) -> None:
    """JSON columns change only by assignment (SQLAlchemy does not see in-place edits)."""
    state = dict(run.state)
    for key, value in changes.items():
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
    run.state = state


def _seconds(seconds: float, stage: Stage) -> timedelta:
    return timedelta(seconds=seconds * stage.pacing.scale)


async def advance(run: SceneRun, stage: Stage) -> None:
    """Play on while nothing needs waiting for. Bounded by the program's length: each position
    is passed at most once per call (jumps only go forward)."""
    run.updated_at = stage.now
    # When the run was due: a line that follows a pause is scheduled at the pause's end (its
    # drift is measured from there), one that follows a confirmed line at once.
    due = as_utc(run.next_at) if run.next_at is not None else stage.now
    stage = replace(stage, due=min(due, stage.now))
    for _ in range(len(stage.scene.program) + 1):
        if run.status != "playing":
            return
        if run.state.get("awaiting") is not None:
            run.next_at = None  # its confirmation moves it (a resumed run may come here)
            return
        if run.pc >= len(stage.scene.program):
            await history.end(
                stage.session, run, "finished", stage.now, scene_name=stage.scene_name
            )
            return
        if not await _step(run, stage.scene.program[run.pc], stage):
            return


async def _step(run: SceneRun, instr: object, stage: Stage) -> bool:
    """One position; True to go on at once, False when the run now waits (or ended)."""
    if isinstance(instr, JumpTo):
        run.pc = instr.target
        return True
    if isinstance(instr, WaitAt):
        return _wait(run, instr, stage)
    if isinstance(instr, ListenAt):
        return await _listen(run, instr, stage)
    if isinstance(instr, StopAt):
        run.pc = len(stage.scene.program)
        return True
    if isinstance(instr, LeadAt):
        await refer_member(stage.session, run, instr, stage.now)
        run.pc += 1
        return True
    assert isinstance(instr, SayAt)  # noqa: S101 - the last kind
    return await _say(run, instr, stage)


def _wait(run: SceneRun, wait: WaitAt, stage: Stage) -> bool:
    if run.state.get("wait_pc") == run.pc:  # the pause drawn here is over
        set_state(run, wait_pc=None)
        run.pc += 1
        return True
    rng = random.Random(f"{run.seed}:{run.pc}:wait")
    seconds = rng.uniform(wait.low, wait.high)
    run.next_at = stage.now + _seconds(seconds, stage)
    set_state(run, wait_pc=run.pc)
    history.note(
        stage.session, run, "waiting", stage.now, line=wait.line, seconds=round(seconds, 1)
    )
    return False


async def _listen(run: SceneRun, listen: ListenAt, stage: Stage) -> bool:
    if run.state.get("listen_pc") != run.pc:
        until = stage.now + _seconds(listen.timeout, stage)
        set_state(run, listen_pc=run.pc, listen_until=until.isoformat(), member=None)
        run.next_at = until
        history.note(stage.session, run, "listening", stage.now, line=listen.line)
        if stage.heard_already is not None and await stage.heard_already(run, listen, stage):
            return True  # hear() moved the run into the clause
        return False
    # The timeout came before any member's message chose a clause (those move the run
    # themselves, see scripts.audience).
    set_state(run, listen_pc=None, listen_until=None)
    run.pc = listen.silent if listen.silent is not None else listen.after
    history.note(stage.session, run, "silent", stage.now, line=listen.line)
    return True


def hear(
    run: SceneRun, listen: ListenAt, target: int, member: dict[str, Any], stage: Stage
) -> None:
    """A member's message chose the clause starting at ``target``."""
    set_state(run, listen_pc=None, listen_until=None, member=member)
    run.pc = target
    run.next_at = stage.now
    history.note(stage.session, run, "heard", stage.now, line=listen.line, member=member["name"])


async def _say(run: SceneRun, at: SayAt, stage: Stage) -> bool:
    due = stage.due or stage.now
    outcome = await queue_line(
        stage.session, run, stage.scene, at.say, stage.now, stage.pacing, due=due
    )
    if isinstance(outcome, Queued):
        set_state(run, awaiting=outcome.line.id)
        run.next_at = None
        return False
    if isinstance(outcome, Later):
        run.next_at = outcome.until
        detail = {"until": outcome.until.isoformat(), "why": outcome.detail}
        history.note(stage.session, run, outcome.why, stage.now, line=at.say.line, **detail)
        return False
    if isinstance(outcome, Skipped):
        history.note(
            stage.session, run, "skipped", stage.now, line=at.say.line, reason=outcome.reason
        )
        run.pc += 1
        return True
    assert isinstance(outcome, Broken)  # noqa: S101 - the last kind
    reason = f"line {at.say.line} ({at.say.role}): {outcome.reason}"
    await history.end(
        stage.session, run, "failed", stage.now, scene_name=stage.scene_name, reason=reason
    )
    return False
