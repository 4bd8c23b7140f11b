"""The watchdog's side of ``command.worker``: an operator restarts a worker or releases it from
quarantine. The change to the account's ``worker_states`` row (locked) and its audit entry, naming
the actor, are one transaction; the reconciler does the rest on its next pass.

- release (any watchdog: the database alone): the ledger's ``note_stopped`` — out of
  quarantine, restarts and crash times forgotten, no next start time — so the reconciler starts
  the worker at once; ``worker.released`` (outbox, same transaction) settles the crash alert.
- restart (the lease holder, which runs the workers): the row's backoff is cleared (no restarts
  counted, no next start time); a worker running here is stopped on purpose — the reconciler is
  told its exit was asked for, so it is judged ``stopped``, not a crash — and the next pass
  starts it again at once. A watchdog without the lease raises, so the command is retried and
  lands on the holder; an answerer with no runtime at all (``hands`` None) changes the row only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import record
from core.bus import Bus, decode_payload
from core.db import Database
from core.db.models import Account
from core.db.watchdog_models import WorkerState
from core.events import Event
from core.outbox import add_to_outbox
from core.topology import WATCHDOG_COMMANDS
from core.worker_commands import WORKER_COMMAND, WorkerCommand, WorkerReleased, WorkerResult
from watchdog.ledger import note_stopped, state_of
from watchdog.runtimes.base import WorkerRuntime

if TYPE_CHECKING:
    from watchdog.bootstrap import Watchdog  # which builds the commands: imported only to type

log = logging.getLogger(__name__)


class NotActing(Exception):
    """This watchdog does not hold the lease: the restart is retried, for the one that does."""


@dataclass(frozen=True)
class Hands:
    """What a restart needs from the watchdog that runs the workers."""

    runtime: WorkerRuntime
    acting: Callable[[], bool]  # holds the lease now
    expect_stop: Callable[[str], None]  # tells the reconciler this instance's exit is asked for
    stop_grace: float


def hands_of(watchdog: Watchdog, *, stop_grace: float) -> Hands:
    """A watchdog's runtime, lease and reconciler, as a restart uses them."""
    return Hands(
        watchdog.runtime,
        acting=lambda: watchdog.lease.held,
        expect_stop=watchdog.reconciler.expect_stop,
        stop_grace=stop_grace,
    )


async def apply_command(session: AsyncSession, command: WorkerCommand) -> WorkerResult:
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
    if command.action == "release":
        return await _release(session, command, row, name)
    return await _restart(session, command, row, name, status)


async def _release(
    session: AsyncSession, command: WorkerCommand, row: WorkerState | None, name: str
) -> WorkerResult:
    if row is None or not row.quarantined:
        shown = row.state if row is not None else "not started yet"
        return _refused(row, f"the worker of {name} is not quarantined (it is {shown})")
    note_stopped(row, reason="released")
    released = WorkerReleased(account_id=row.account_id, by=command.actor.login)
    await add_to_outbox(session, Event.of(released))  # settles the crash-loop alert
    record(session, "worker_released", actor=command.actor, target=name, account_id=row.account_id)
    detail = f"the worker of {name} was released and starts again"
    return WorkerResult(outcome="done", detail=detail, state=row.state)


async def _restart(
    session: AsyncSession,
    command: WorkerCommand,
    row: WorkerState | None,
    name: str,
    status: str,
) -> WorkerResult:
    if status != "active":
        return _refused(row, f"the account {name} is {status}: resume it first")
    if row is not None and row.quarantined:
        return _refused(row, f"the worker of {name} is quarantined: release it instead")
    state = row if row is not None else await state_of(session, command.account_id)
    state.restarts = 0  # an operator's restart starts afresh: no backoff now or after
    state.next_start_at = None
    record(
        session, "worker_restarted", actor=command.actor, target=name, account_id=state.account_id
    )
    return WorkerResult(outcome="done", detail=f"the worker of {name} restarts", state=state.state)


def _refused(row: WorkerState | None, detail: str) -> WorkerResult:
    return WorkerResult(outcome="refused", detail=detail, state=row.state if row else None)


class WorkerCommands:
    """Answers ``command.worker`` requests from the bus (``Bus.serve``)."""

    def __init__(
        self, db: Database, *, hands: Hands | None = None, wake: Callable[[], None] = lambda: None
    ) -> None:
        """``wake``: have this watchdog's loop reconcile now rather than at its next interval."""
        self._db = db
        self._hands = hands
        self._wake = wake
        self._stopping: set[asyncio.Task[None]] = set()

    async def on_command(self, event: Event) -> Event:
        command = decode_payload(event, WorkerCommand)
        if command.action == "restart" and self._hands is not None and not self._hands.acting():
            raise NotActing(f"this watchdog does not run the workers; restart {command.account_id}")
        async with self._db.transaction() as session:
            result = await apply_command(session, command)
        if result.outcome == "done":
            if command.action == "restart":
                result = await self._stop(command.account_id, result)
            self._wake()
        return Event.of(result, correlation_id=event.id)

    async def _stop(self, account_id: int, result: WorkerResult) -> WorkerResult:
        """SIGTERM to the worker running here, in the background: the answer need not wait
        out its grace; the exit is judged like any other, as one asked for."""
        if self._hands is None:
            return result
        worker = (await self._hands.runtime.running()).get(account_id)
        if worker is None:
            return result  # not running: the next pass starts it
        self._hands.expect_stop(worker.instance)
        grace = self._hands.stop_grace
        task = asyncio.create_task(self._hands.runtime.stop(account_id, grace=grace))
        self._stopping.add(task)
        task.add_done_callback(self._stopped)
        return result.model_copy(update={"state": "restarting"})

    def _stopped(self, task: asyncio.Task[None]) -> None:
        self._stopping.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("restart: the worker was not stopped", exc_info=task.exception())


async def serve_commands(
    bus: Bus, db: Database, *, hands: Hands | None = None, wake: Callable[[], None] = lambda: None
) -> WorkerCommands:
    """Answer ``command.worker`` on ``bus`` (the watchdog's bootstrap calls this)."""
    commands = WorkerCommands(db, hands=hands, wake=wake)
    await bus.serve(WATCHDOG_COMMANDS, [WORKER_COMMAND], commands.on_command, prefetch=1)
    return commands
