"""The reconciler's start line and start timeout, with a runtime that only records (on SQLite):
workers starting at once are capped, the ones in line are not faults, and a worker that never
beats is killed as ``start_timeout`` (a crash, backed off), not as hung."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bots.heartbeat import Heartbeat
from core.db import Database
from core.db.watchdog_models import WorkerState
from core.settings import Settings
from tests.unit.test_watchdog_reconciler import RecordingRuntime
from tests.unit.test_watchdog_reconciler import _account as account_of
from watchdog.backoff import BackoffPolicy
from watchdog.bootstrap import runtime_of
from watchdog.ledger import exit_reason
from watchdog.reconciler import Reconciler, Timing
from watchdog.runtimes.base import RunningWorker, WorkerExit
from watchdog.runtimes.fork_protocol import REPLY, Exited, Ready, exit_code
from watchdog.runtimes.forked import ForkedRuntime
from watchdog.runtimes.local import LocalRuntime

POLICY = BackoffPolicy(base=60, cap=60, reset_after=600, quarantine_crashes=3)


@pytest.fixture
async def db(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Database]:
    shutil.copyfile(sqlite_template, tmp_path / "starts.db")
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'starts.db'}")
    yield database
    await database.close()


class AgingRuntime(RecordingRuntime):
    """Workers launched ``age`` seconds ago, as the reconciler sees them."""

    def __init__(self, age: float = 0.0) -> None:
        super().__init__()
        self.age = age

    async def launch(self, account_id: int, instance: str) -> RunningWorker:
        started = datetime.now(UTC) - timedelta(seconds=self.age)
        worker = RunningWorker(account_id, instance, f"fake-{instance}", started)
        self.workers[account_id] = worker
        self.launched.append(account_id)
        return worker


async def _beat(db: Database, worker: RunningWorker) -> None:
    await Heartbeat(db, worker.account_id, instance=worker.instance, every=1).beat()


async def _state(db: Database, account_id: int) -> WorkerState | None:
    async with db.session() as session:
        return await session.get(WorkerState, account_id)


async def test_at_most_max_starting_workers_start_at_once_and_the_line_moves_on_beats(
    db: Database,
) -> None:
    runtime = RecordingRuntime()
    reconciler = Reconciler(
        db=db, runtime=runtime, policy=POLICY, timing=Timing(max_starting=2, start_timeout=30)
    )
    accounts = [await account_of(db, f"a{i}") for i in range(5)]
    await reconciler.reconcile()
    assert runtime.launched == accounts[:2]
    assert reconciler.waiting == 3 and reconciler.busy
    await reconciler.reconcile()
    assert runtime.launched == accounts[:2]  # nobody beat yet: nobody else starts
    for waiting in accounts[2:]:
        assert await _state(db, waiting) is None  # in line is no fault: nothing recorded

    await _beat(db, runtime.workers[accounts[0]])  # one has started
    await reconciler.reconcile()
    assert runtime.launched == accounts[:3] and reconciler.waiting == 2

    for account in accounts[1:3]:
        await _beat(db, runtime.workers[account])
    await reconciler.reconcile()
    for account in accounts[3:]:
        await _beat(db, runtime.workers[account])
    await reconciler.reconcile()
    assert sorted(runtime.launched) == accounts and not reconciler.busy


async def test_a_worker_that_never_beats_is_killed_as_a_start_timeout_and_backed_off(
    db: Database,
) -> None:
    runtime = AgingRuntime(age=31)  # launched longer ago than the start timeout
    reconciler = Reconciler(
        db=db,
        runtime=runtime,
        policy=POLICY,
        timing=Timing(heartbeat_timeout=600, start_timeout=30),
    )
    account = await account_of(db, "slow")
    await reconciler.reconcile()  # launched
    await reconciler.reconcile()  # no beat 31 s after its launch: killed
    assert account not in runtime.workers
    await reconciler.reconcile()  # its end judged, and the first restart is at once
    state = await _state(db, account)
    assert state is not None and state.last_reason == "start_timeout"
    assert state.restarts == 1 and state.last_exit_code == 137
    assert runtime.launched == [account, account]  # the first restart is at once, as a crash's


async def test_a_beating_worker_is_judged_by_the_heartbeat_timeout_not_the_start_timeout(
    db: Database,
) -> None:
    runtime = AgingRuntime(age=31)
    reconciler = Reconciler(
        db=db,
        runtime=runtime,
        policy=POLICY,
        timing=Timing(heartbeat_timeout=60, start_timeout=30),
    )
    account = await account_of(db, "steady")
    await reconciler.reconcile()
    await _beat(db, runtime.workers[account])
    await reconciler.reconcile()
    assert runtime.launched == [account] and account in runtime.workers
    assert not reconciler.busy


def test_a_start_timeout_is_a_crash_of_its_own_name() -> None:
    ended = WorkerExit(1, "i", 137, False, "")
    judged = exit_reason(ended, status="active", requested=False, hung=False, start_timed_out=True)
    assert judged == "start_timeout"
    assert exit_reason(ended, status="active", requested=False, hung=False) == "crash"


def test_fork_server_replies_and_exit_statuses() -> None:
    assert REPLY.validate_json(b'{"op": "ready", "pid": 7}') == Ready(pid=7)
    exited = REPLY.validate_json(b'{"op": "exited", "instance": "i", "pid": 8, "code": 137}')
    assert isinstance(exited, Exited) and exited.code == 137
    assert exit_code(9) == 128 + 9  # killed by SIGKILL (a wait status of just the signal)
    assert exit_code(2 << 8) == 2  # exited with 2


def test_the_local_runtime_forks_by_default_and_execs_when_asked() -> None:
    assert isinstance(runtime_of(Settings()), ForkedRuntime)
    assert isinstance(runtime_of(Settings(watchdog_local_mode="exec")), LocalRuntime)
