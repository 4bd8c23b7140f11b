"""Account workers over the API: each account's worker as the watchdog and the worker's heartbeat
tell it, and Restart / Release, each one ``WorkerCommand`` the watchdog carries out (it alone
writes worker states) and audits under the caller's name. Pausing an account is
``PATCH /accounts/{id}`` with ``status: paused``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from admin.access.deps import Admin, Viewer
from admin.api.deps import BusDep, SessionDep
from admin.api.fields import DB_INT_MAX
from admin.api.schemas import Timestamp
from admin.reads.workers import (
    WORKER_STATES,
    WorkerRow,
    last_log,
    stale_after,
    worker_row,
    worker_rows,
)
from core.access import Actor
from core.bus import Bus
from core.db.models import Account
from core.settings import Settings
from core.worker_commands import WorkerAction, WorkerCommand, WorkerResult, send_worker_command

router = APIRouter(prefix="/workers", tags=["workers"])
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
_STATUS = {"missing": 404, "refused": 409, "unavailable": 503}
REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such account"},
    409: {"description": "refused: the worker's state does not allow it (not quarantined, …)"},
    503: {"description": "the watchdog is not running or did not answer; nothing was done"},
}


class WorkerRead(BaseModel):
    account_id: int
    account: str
    account_status: str = Field(description="active, paused, banned or revoked")
    state: str = Field(description=", ".join(WORKER_STATES))
    backoff_until: Timestamp | None = Field(description="backoff: when it starts again")
    started_at: Timestamp | None
    uptime_seconds: float | None = Field(description="running: since its start")
    heartbeat_at: Timestamp | None
    heartbeat_age_seconds: float | None
    heartbeat_stale: bool = Field(description="it should beat and has not lately: it may hang")
    restarts: int = Field(description="since its last healthy run")
    crashes: int = Field(description="within the quarantine window")
    last_exit_code: int | None
    last_reason: str | None = Field(description="crash, oom, hung, exited, stopped, …")
    host: str | None
    pid: int | None


class WorkerLogRead(BaseModel):
    account_id: int
    lines: list[str] = Field(description="the last lines before its last exit, oldest first")


class WorkerActionRead(BaseModel):
    outcome: str
    detail: str
    state: str | None


def _read(row: WorkerRow, now: datetime) -> WorkerRead:
    uptime, age = row.uptime(now), row.beat_age(now)
    return WorkerRead(
        account_id=row.account_id,
        account=row.account,
        account_status=row.account_status,
        state=row.state,
        backoff_until=row.until,
        started_at=row.started_at,
        uptime_seconds=uptime.total_seconds() if uptime is not None else None,
        heartbeat_at=row.beat_at,
        heartbeat_age_seconds=age.total_seconds() if age is not None else None,
        heartbeat_stale=row.stale,
        restarts=row.restarts,
        crashes=row.crashes,
        last_exit_code=row.last_exit_code,
        last_reason=row.last_reason,
        host=row.host,
        pid=row.pid,
    )


def stale(request: Request) -> timedelta:
    """How old a heartbeat is shown as a problem: a few of the workers' intervals."""
    settings: Settings = request.app.state.settings
    return stale_after(settings.watchdog_heartbeat_interval)


StaleDep = Annotated[timedelta, Depends(stale)]


@router.get("", response_model=list[WorkerRead])
async def list_workers(_: Viewer, session: SessionDep, old: StaleDep) -> list[WorkerRead]:
    """Every account with its worker, by account name."""
    now = datetime.now(UTC)
    return [_read(row, now) for row in await worker_rows(session, now=now, stale=old)]


@router.get("/{account_id}", response_model=WorkerRead, responses=REFUSALS)
async def read_worker(_: Viewer, session: SessionDep, old: StaleDep, account_id: Id) -> WorkerRead:
    now = datetime.now(UTC)
    row = await worker_row(session, account_id, now=now, stale=old)
    if row is None:
        raise HTTPException(404, f"account {account_id} does not exist")
    return _read(row, now)


@router.get("/{account_id}/log", response_model=WorkerLogRead, responses=REFUSALS)
async def read_log(_: Viewer, session: SessionDep, account_id: Id) -> WorkerLogRead:
    """What the worker wrote last before it ended (kept by the watchdog at each exit)."""
    if await session.get(Account, account_id) is None:
        raise HTTPException(404, f"account {account_id} does not exist")
    text = await last_log(session, account_id)
    return WorkerLogRead(account_id=account_id, lines=text.splitlines())


async def command(bus: Bus, action: WorkerAction, actor: Actor, account_id: int) -> WorkerResult:
    return await send_worker_command(
        bus, WorkerCommand(action=action, account_id=account_id, actor=actor)
    )


def _answer(result: WorkerResult) -> WorkerActionRead | JSONResponse:
    if result.outcome == "done":
        return WorkerActionRead(outcome=result.outcome, detail=result.detail, state=result.state)
    status = _STATUS.get(result.outcome, 409)
    return JSONResponse({"detail": result.detail or result.outcome}, status_code=status)


async def _act(
    session: AsyncSession, bus: Bus, action: WorkerAction, actor: Actor, account_id: int
) -> WorkerActionRead | JSONResponse:
    if await session.get(Account, account_id) is None:  # said at once, watchdog or not
        return JSONResponse({"detail": f"account {account_id} does not exist"}, status_code=404)
    await session.close()  # no connection held while the watchdog answers
    return _answer(await command(bus, action, actor, account_id))


@router.post("/{account_id}/restart", response_model=WorkerActionRead, responses=REFUSALS)
async def restart(
    actor: Admin, session: SessionDep, bus: BusDep, account_id: Id
) -> WorkerActionRead | JSONResponse:
    """Stop the worker now and start it again at once, with no backoff (refused for a paused,
    banned or revoked account, and for a quarantined worker: release that one)."""
    return await _act(session, bus, "restart", actor, account_id)


@router.post("/{account_id}/release", response_model=WorkerActionRead, responses=REFUSALS)
async def release(
    actor: Admin, session: SessionDep, bus: BusDep, account_id: Id
) -> WorkerActionRead | JSONResponse:
    """Out of quarantine with its crash history forgotten: the watchdog starts it again."""
    return await _act(session, bus, "release", actor, account_id)
