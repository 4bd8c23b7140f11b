"""The watchdog's side of ``command.worker``: an operator restarts a worker or releases it from
quarantine. Each command is one transaction on the account's ``worker_states`` row (locked), with
its audit entry naming the actor; the reconciler then does the rest on its next pass.

Only the database is touched, never a runtime: any watchdog may answer, the lease holder acts.

- release: the ledger's ``note_stopped`` — out of quarantine, restarts and crash times
  forgotten, no next start time — so the reconciler starts the worker at once.
- restart of a live worker: its row is marked quarantined while its state stays ``running``.
  The reconciler stops a running worker whose row says quarantined, as a stop it asked for, and
  judges that exit ``stopped``, which clears the row (``note_stopped``): its next pass starts the
  worker at once, with no backoff. A crash in between is judged as a crash and overwrites the
  mark. The read model shows the mark as "restarting"; a release clears it too.
- restart of a worker that is not running (backing off, stopped): its next start is now.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record
from core.bus import Bus, decode_payload
from core.db import Database
from core.db.models import Account
from core.db.watchdog_models import WorkerHeartbeat, WorkerState
from core.events import Event
from core.topology import WATCHDOG_COMMANDS
from core.worker_commands import WORKER_COMMAND, WorkerCommand, WorkerResult
from watchdog.ledger import aware, note_stopped, state_of

RESTART_MARK = "restart"  # last_reason of a live worker marked for a restart


def restarting(state: WorkerState) -> bool:
    """Marked for a restart and not stopped yet (the reconciler's next pass stops it)."""
    return state.quarantined and state.state == "running"


async def apply_command(
    session: AsyncSession, command: WorkerCommand, *, now: datetime, heartbeat_timeout: float
) -> WorkerResult:
    """Change the account's worker row as the command asks, or say why not; the caller owns the
    transaction (a refusal changes nothing)."""
    found = (
        await session.execute(
            select(Account.name, Account.status).where(Account.id == command.account_id)
        )
    ).first()
    if found is None:
        return WorkerResult(
            outcome="missing", detail=f"account {command.account_id} does not exist"
        )
    name, status = found.name, found.status
    row = await session.scalar(
        select(WorkerState).where(WorkerState.account_id == command.account_id).with_for_update()
    )
    now_state = row.state if row is not None else None
    if command.action == "release":
        if row is None or not row.quarantined:
            shown = now_state or "not started yet"
            return _refused(now_state, f"the worker of {name} is not quarantined (it is {shown})")
        note_stopped(row, reason="released")
        record(
            session, "worker_released", actor=command.actor, target=name, account_id=row.account_id
        )
        detail = f"the worker of {name} was released and starts again"
        return WorkerResult(outcome="done", detail=detail, state=row.state)
    if status != "active":
        return _refused(now_state, f"the account {name} is {status}: resume it first")
    if row is not None and row.quarantined and not restarting(row):
        return _refused(now_state, f"the worker of {name} is quarantined: release it instead")
    state = row if row is not None else await state_of(session, command.account_id)
    beat = await session.get(WorkerHeartbeat, command.account_id)
    alive = (
        state.state == "running"
        and beat is not None
        and beat.instance == state.instance
        and now - aware(beat.beat_at) < timedelta(seconds=heartbeat_timeout)
    )
    if alive:
        state.quarantined = True
        state.last_reason = RESTART_MARK
    else:
        state.next_start_at = None
        state.restarts = 0
    record(
        session, "worker_restarted", actor=command.actor, target=name, account_id=state.account_id
    )
    shown = "restarting" if alive else state.state
    return WorkerResult(outcome="done", detail=f"the worker of {name} restarts", state=shown)


def _refused(state: str | None, detail: str) -> WorkerResult:
    return WorkerResult(outcome="refused", detail=detail, state=state)


class WorkerCommands:
    """Answers ``command.worker`` requests from the bus (``Bus.serve``)."""

    def __init__(
        self, db: Database, *, heartbeat_timeout: float, wake: Callable[[], None] = lambda: None
    ) -> None:
        """``wake``: have this watchdog's loop reconcile now rather than at its next interval."""
        self._db = db
        self._heartbeat_timeout = heartbeat_timeout
        self._wake = wake

    async def on_command(self, event: Event) -> Event:
        command = decode_payload(event, WorkerCommand)
        async with self._db.transaction() as session:
            result = await apply_command(
                session, command, now=datetime.now(UTC), heartbeat_timeout=self._heartbeat_timeout
            )
        if result.outcome == "done":
            self._wake()
        return Event.of(result, correlation_id=event.id)


async def serve_commands(
    bus: Bus, db: Database, *, heartbeat_timeout: float, wake: Callable[[], None] = lambda: None
) -> WorkerCommands:
    """Answer ``command.worker`` on ``bus`` (the watchdog's bootstrap calls this)."""
    commands = WorkerCommands(db, heartbeat_timeout=heartbeat_timeout, wake=wake)
    await bus.serve(WATCHDOG_COMMANDS, [WORKER_COMMAND], commands.on_command, prefetch=1)
    return commands
