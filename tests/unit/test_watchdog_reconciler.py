"""The reconciler's decisions with a runtime that only records (a fake adapter passed in, as
through bootstrap), on SQLite: what starts, what stops, what a quarantine survives."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from core.db import Database
from core.db.models import Account
from core.db.watchdog_models import WorkerState
from watchdog.backoff import BackoffPolicy
from watchdog.reconciler import Reconciler, Timing
from watchdog.runtimes.base import RunningWorker, WorkerExit, WorkerRuntime


class RecordingRuntime(WorkerRuntime):
    """Workers that exist only in a dict; a stop or a kill ends them at once."""

    def __init__(self) -> None:
        super().__init__()
        self.workers: dict[int, RunningWorker] = {}
        self.launched: list[int] = []

    async def launch(self, account_id: int, instance: str) -> RunningWorker:
        worker = RunningWorker(account_id, instance, f"fake-{instance}", datetime.now(UTC))
        self.workers[account_id] = worker
        self.launched.append(account_id)
        return worker

    async def running(self) -> dict[int, RunningWorker]:
        return dict(self.workers)

    def end(self, account_id: int, code: int) -> None:
        worker = self.workers.pop(account_id)
        self.report_exit(WorkerExit(account_id, worker.instance, code, False, "boom"))

    async def stop(self, account_id: int, *, grace: float) -> None:
        if account_id in self.workers:
            self.end(account_id, 0)

    async def kill(self, account_id: int) -> None:
        if account_id in self.workers:
            self.end(account_id, 137)

    async def abandon(self, *, grace: float) -> None:
        for account_id in list(self.workers):
            self.end(account_id, 0)


@pytest.fixture
async def db(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Database]:
    shutil.copyfile(sqlite_template, tmp_path / "reconciler.db")
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'reconciler.db'}")
    yield database
    await database.close()


POLICY = BackoffPolicy(base=60, cap=60, reset_after=600, quarantine_crashes=2)


async def _account(db: Database, name: str) -> int:
    async with db.transaction() as session:
        account = Account(name=name, role="parser", status="active", session_secret="x")
        session.add(account)
        await session.flush()
        return account.id


async def _status(db: Database, account_id: int, status: str) -> None:
    async with db.transaction() as session:
        await session.execute(update(Account).where(Account.id == account_id).values(status=status))


async def _state(db: Database, account_id: int) -> WorkerState:
    async with db.session() as session:
        state = await session.get(WorkerState, account_id)
    assert state is not None
    return state


def _reconciler(db: Database, runtime: WorkerRuntime) -> Reconciler:
    return Reconciler(db=db, runtime=runtime, policy=POLICY, timing=Timing(heartbeat_timeout=60))


async def test_crashes_restart_once_at_once_then_back_off_then_quarantine(db: Database) -> None:
    runtime = RecordingRuntime()
    reconciler = _reconciler(db, runtime)
    account = await _account(db, "first")
    await reconciler.reconcile()
    runtime.end(account, 1)
    await reconciler.reconcile()
    assert runtime.launched == [account, account]  # the first restart is immediate
    runtime.end(account, 1)
    await reconciler.reconcile()
    state = await _state(db, account)
    assert state.quarantined and state.state == "quarantined" and state.last_log == "boom"
    await reconciler.reconcile()
    assert runtime.launched == [account, account]


async def test_a_crash_backs_off_before_the_quarantine_count(db: Database) -> None:
    runtime = RecordingRuntime()
    reconciler = Reconciler(
        db=db,
        runtime=runtime,
        policy=BackoffPolicy(base=60, cap=60, quarantine_crashes=5),
        timing=Timing(),
    )
    account = await _account(db, "first")
    await reconciler.reconcile()
    runtime.end(account, 1)
    await reconciler.reconcile()
    runtime.end(account, 1)
    await reconciler.reconcile()
    state = await _state(db, account)
    assert state.state == "backoff" and state.restarts == 2
    assert len(runtime.launched) == 2  # the second restart waits about a minute


async def test_pausing_stops_the_worker_and_resuming_lifts_a_quarantine(db: Database) -> None:
    runtime = RecordingRuntime()
    reconciler = _reconciler(db, runtime)
    account = await _account(db, "first")
    await reconciler.reconcile()
    for _ in range(2):
        runtime.end(account, 1)
        await reconciler.reconcile()
    assert (await _state(db, account)).quarantined
    await _status(db, account, "paused")
    await reconciler.reconcile()
    state = await _state(db, account)
    assert state.state == "stopped" and not state.quarantined and state.crash_times == []
    await _status(db, account, "active")
    await reconciler.reconcile()
    assert runtime.launched.count(account) == 3 and account in runtime.workers


async def test_a_worker_stopped_by_us_is_no_crash_and_a_lost_account_is_not_restarted(
    db: Database,
) -> None:
    runtime = RecordingRuntime()
    reconciler = _reconciler(db, runtime)
    account = await _account(db, "first")
    await reconciler.reconcile()
    await _status(db, account, "banned")
    await reconciler.reconcile()
    assert account not in runtime.workers
    await reconciler.reconcile()
    state = await _state(db, account)
    assert state.last_reason == "account_banned" and state.restarts == 0
    assert runtime.launched == [account]
