"""The watchdog's bookkeeping in the database: what it knows of each account's worker
(``worker_states``), what it must act on (accounts and heartbeats), and how an exit is judged.

Functions take the caller's session: the reconciler owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.exit_codes import EXIT_ACCOUNT_UNUSABLE
from core.db.models import Account
from core.db.watchdog_models import WorkerHeartbeat, WorkerState
from core.events import Event, WorkerCrashed
from core.outbox import add_to_outbox
from watchdog.backoff import BackoffPolicy, after_crash
from watchdog.runtimes.base import WorkerExit

CRASH_REASONS = frozenset({"crash", "oom", "hung", "start_timeout", "exited"})


@dataclass(frozen=True)
class Snapshot:
    """One reading of what the reconciler decides on."""

    statuses: dict[int, str]  # account id → accounts.status
    states: dict[int, WorkerState]
    beats: dict[int, WorkerHeartbeat]


async def read_snapshot(session: AsyncSession) -> Snapshot:
    accounts = await session.execute(select(Account.id, Account.status))
    statuses = {row.id: row.status for row in accounts}
    states = {s.account_id: s for s in await session.scalars(select(WorkerState))}
    beats = {b.account_id: b for b in await session.scalars(select(WorkerHeartbeat))}
    return Snapshot(statuses, states, beats)


async def account_status(session: AsyncSession, account_id: int) -> str | None:
    """The account's status; None when it was deleted."""
    status: str | None = await session.scalar(
        select(Account.status).where(Account.id == account_id)
    )
    return status


async def state_of(session: AsyncSession, account_id: int) -> WorkerState:
    """The account's row, locked for this transaction (new when the account has none yet)."""
    state = await session.scalar(
        select(WorkerState).where(WorkerState.account_id == account_id).with_for_update()
    )
    if state is None:
        state = WorkerState(
            account_id=account_id, state="stopped", restarts=0, crash_times=[], quarantined=False
        )
        session.add(state)
    return state


def note_started(state: WorkerState, *, instance: str, now: datetime) -> None:
    state.state = "running"
    state.instance = instance
    state.started_at = now
    state.next_start_at = None


def note_stopped(state: WorkerState, *, reason: str) -> None:
    """Stopped on purpose (the account is paused, banned, gone): its crash history is over, so
    an account made active again starts afresh, out of quarantine."""
    state.state = "stopped"
    state.last_reason = reason
    state.next_start_at = None
    state.quarantined = False
    state.restarts = 0
    state.crash_times = []


def exit_reason(
    ended: WorkerExit,
    *,
    status: str | None,
    requested: bool,
    hung: bool,
    start_timed_out: bool = False,
) -> str:
    """Why the worker ended. Not crashes: ``account_<status>`` (the account is paused, banned,
    revoked or ``deleted``, whoever stopped the worker), ``stopped`` (we asked: a lease hand-over,
    a quarantine), ``account_unusable`` (the worker said so, exit 78, of an account still marked
    active). Crashes: ``hung`` (killed for its silence), ``start_timeout`` (killed for never
    beating), ``oom``, ``exited`` (0 unasked), ``crash``."""
    if hung:
        return "hung"
    if start_timed_out:
        return "start_timeout"
    if status != "active":
        return f"account_{status or 'deleted'}"
    if requested:
        return "stopped"
    if ended.exit_code == EXIT_ACCOUNT_UNUSABLE:
        return "account_unusable"
    if ended.oom_killed:
        return "oom"
    return "exited" if ended.exit_code == 0 else "crash"


async def record_exit(
    session: AsyncSession,
    ended: WorkerExit,
    *,
    reason: str,
    policy: BackoffPolicy,
    now: datetime,
) -> WorkerState:
    """Write the exit to the account's state; a crash sets the backoff or the quarantine, and a
    quarantine announces ``worker.crashed`` (through the outbox, in this transaction)."""
    state = await state_of(session, ended.account_id)
    state.last_exit_code = ended.exit_code
    state.last_log = ended.log_tail or None
    if reason == "stopped":  # by us (a lease hand-over, a quarantine): history stands
        state.state = "quarantined" if state.quarantined else "stopped"
        state.last_reason = reason
        return state
    if reason == "account_unusable":
        # The worker gave up on an account still marked active (a race with the panel): try
        # again later, not in a tight loop.
        state.state = "stopped"
        state.last_reason = reason
        state.next_start_at = now + _seconds(policy.base)
        return state
    if reason not in CRASH_REASONS:  # account_<status>: the account is out of service
        note_stopped(state, reason=reason)
        return state
    verdict = after_crash(
        policy,
        now=now,
        started_at=aware(state.started_at) if state.started_at else None,
        restarts=state.restarts,
        crash_times=[datetime.fromisoformat(t) for t in state.crash_times],
    )
    state.last_reason = reason
    state.restarts = verdict.restarts
    state.crash_times = [t.isoformat() for t in verdict.crash_times]
    state.next_start_at = verdict.next_start_at
    state.quarantined = verdict.quarantined
    state.state = "quarantined" if verdict.quarantined else "backoff"
    if verdict.quarantined:
        crashed = WorkerCrashed(
            account_id=ended.account_id,
            exit_code=ended.exit_code,
            oom_killed=ended.oom_killed,
            restarts=verdict.restarts,
            quarantined=True,
            log_tail=ended.log_tail[-8000:],
        )
        await add_to_outbox(session, Event.of(crashed))
    return state


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time we write is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
