"""Worker rows as the watchdog and the workers leave them, for the System page, the workers API
and the watchdog's command tests; and the watchdog's command side served on a bus."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from core.bus import Bus
from core.db import Database
from core.db.models import AuditEntry
from core.db.watchdog_models import WorkerHeartbeat, WorkerState
from watchdog.commands import Hands, WorkerCommands, serve_commands

CRASH_LOG = "starting worker\nTraceback (most recent call last):\nRuntimeError: <boom> & bust"


async def quarantined(db: Database, account_id: int, *, exit_code: int = 1) -> None:
    """Five crashes in a row: what ``watchdog.ledger.record_exit`` leaves."""
    now = datetime.now(UTC)
    crashes = [(now - timedelta(seconds=10 * n)).isoformat() for n in range(5)]
    await put_state(
        db,
        account_id,
        state="quarantined",
        quarantined=True,
        restarts=5,
        crash_times=crashes,
        last_exit_code=exit_code,
        last_reason="crash",
        last_log=CRASH_LOG,
        instance="crashed-one",
        started_at=now - timedelta(seconds=3),
    )


async def running(
    db: Database, account_id: int, *, beat_age: float = 1.0, up: float = 3600.0
) -> None:
    """A worker the watchdog started ``up`` seconds ago, whose last heartbeat is ``beat_age``
    seconds old."""
    now = datetime.now(UTC)
    instance = f"instance-{account_id}"
    started = now - timedelta(seconds=up)
    await put_state(db, account_id, state="running", instance=instance, started_at=started)
    async with db.transaction() as session:
        session.add(
            WorkerHeartbeat(
                account_id=account_id,
                instance=instance,
                host="worker-host",
                pid=4242,
                started_at=started,
                beat_at=now - timedelta(seconds=beat_age),
            )
        )


async def put_state(db: Database, account_id: int, **values: Any) -> None:
    fields: dict[str, Any] = {"restarts": 0, "crash_times": [], "quarantined": False, **values}
    async with db.transaction() as session:
        session.add(WorkerState(account_id=account_id, **fields))


async def state_of(db: Database, account_id: int) -> WorkerState | None:
    async with db.session() as session:
        return await session.get(WorkerState, account_id)


async def audit(db: Database, action: str) -> list[AuditEntry]:
    async with db.session() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list(await session.scalars(query))


async def serve_watchdog_commands(
    bus: Bus, db: Database, *, hands: Hands | None = None, wake: Callable[[], None] = lambda: None
) -> WorkerCommands:
    """What the watchdog's bootstrap does: answer ``command.worker`` from the bus (``hands``:
    the runtime and reconciler a restart stops the worker through)."""
    await bus.start()
    return await serve_commands(bus, db, hands=hands, wake=wake)
