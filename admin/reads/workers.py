"""Account workers as people read them: one row per account with what the watchdog knows of its
worker (``worker_states``) and what the worker says itself (``worker_heartbeats``).

The state shown, in this order: quarantined; no worker (the account is paused, banned or revoked,
and none runs); backoff until …; running; stopped. A heartbeat older than ``stale_after`` is a
problem of its own: the worker may hang, and the watchdog kills it once the silence lasts its
heartbeat timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Account
from core.db.watchdog_models import WorkerHeartbeat, WorkerState

MISSED_BEATS = 3  # a worker this many heartbeats late is shown as a problem
MIN_STALE = timedelta(seconds=15)  # but never sooner: a busy machine delays a beat or two
LOG_TAIL_LINES = 30
WORKER_STATES = ("running", "backoff", "quarantined", "stopped", "no_worker")


@dataclass(frozen=True)
class WorkerRow:
    account_id: int
    account: str
    account_status: str  # accounts.status: active, paused, banned, revoked
    state: str  # one of WORKER_STATES
    until: datetime | None  # backoff: the next start
    started_at: datetime | None  # the running worker's own start (its heartbeat's)
    beat_at: datetime | None
    stale: bool  # a worker should be beating and its heartbeat is old (or missing)
    restarts: int
    crashes: int  # within the quarantine window
    last_exit_code: int | None
    last_reason: str | None
    has_log: bool
    host: str | None
    pid: int | None
    watched: bool  # a watchdog has a row for it (it started, stopped or judged a worker)

    def uptime(self, now: datetime) -> timedelta | None:
        if self.state != "running" or self.started_at is None:
            return None
        return max(now - self.started_at, timedelta(0))

    def beat_age(self, now: datetime) -> timedelta | None:
        return None if self.beat_at is None else max(now - self.beat_at, timedelta(0))

    @property
    def can_release(self) -> bool:
        return self.state == "quarantined"

    @property
    def can_restart(self) -> bool:
        return self.account_status == "active" and self.state != "quarantined"

    @property
    def can_pause(self) -> bool:
        return self.account_status == "active"


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time stored is UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def shown_state(status: str, state: WorkerState | None, now: datetime) -> str:
    if state is None:
        return "stopped" if status == "active" else "no_worker"
    if state.quarantined:
        return "quarantined"  # running too, for a moment: the watchdog is stopping it
    if status != "active" and state.state != "running":
        return "no_worker"
    if state.state == "backoff":
        until = _utc(state.next_start_at)
        return "backoff" if until is not None and until > now else "stopped"
    return state.state if state.state in WORKER_STATES else "stopped"


def stale_after(heartbeat_interval: float) -> timedelta:
    return max(timedelta(seconds=heartbeat_interval * MISSED_BEATS), MIN_STALE)


def describe(
    account: Account,
    state: WorkerState | None,
    beat: WorkerHeartbeat | None,
    *,
    now: datetime,
    stale: timedelta,
) -> WorkerRow:
    # Only this run's heartbeat tells this run's uptime; an older run's beat is history.
    own_beat = (
        beat if beat is not None and (state is None or beat.instance == state.instance) else None
    )
    beat_at = _utc(own_beat.beat_at) if own_beat else None
    shown = shown_state(account.status, state, now)
    if state is None and beat_at is not None and now - beat_at <= stale:
        shown = "running"  # a worker no watchdog started still beats
    started_at = _utc(own_beat.started_at if own_beat else state.started_at if state else None)
    # A worker just started has not beaten yet: its start counts as its first sign of life.
    last_sign = beat_at or started_at
    should_beat = shown == "running"
    return WorkerRow(
        account_id=account.id,
        account=account.name,
        account_status=account.status,
        state=shown,
        until=_utc(state.next_start_at) if state is not None and shown == "backoff" else None,
        started_at=started_at,
        beat_at=beat_at,
        stale=should_beat and (last_sign is None or now - last_sign > stale),
        restarts=state.restarts if state is not None else 0,
        crashes=len(state.crash_times or []) if state is not None else 0,
        last_exit_code=state.last_exit_code if state is not None else None,
        last_reason=state.last_reason if state is not None else None,
        has_log=bool(state is not None and state.last_log),
        host=own_beat.host if own_beat else None,
        pid=own_beat.pid if own_beat else None,
        watched=state is not None,
    )


async def worker_rows(session: AsyncSession, *, now: datetime, stale: timedelta) -> list[WorkerRow]:
    """Every account, by name, with its worker; ``stale``: how old a heartbeat is a problem."""
    accounts = list(await session.scalars(select(Account).order_by(Account.name, Account.id)))
    states = {s.account_id: s for s in await session.scalars(select(WorkerState))}
    beats = {b.account_id: b for b in await session.scalars(select(WorkerHeartbeat))}
    return [describe(a, states.get(a.id), beats.get(a.id), now=now, stale=stale) for a in accounts]


async def worker_row(
    session: AsyncSession, account_id: int, *, now: datetime, stale: timedelta
) -> WorkerRow | None:
    account = await session.get(Account, account_id)
    if account is None:
        return None
    state = await session.get(WorkerState, account_id)
    beat = await session.get(WorkerHeartbeat, account_id)
    return describe(account, state, beat, now=now, stale=stale)


async def last_log(session: AsyncSession, account_id: int, *, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines the worker wrote before its last exit ("" when none were kept)."""
    kept = await session.scalar(
        select(WorkerState.last_log).where(WorkerState.account_id == account_id)
    )
    return "\n".join((kept or "").splitlines()[-lines:])
