"""Make the running workers match the accounts table: one worker per active account that is not
quarantined or backing off, none for the others; judge every exit; kill the silent.

A worker is *starting* from its launch to its first heartbeat. At most ``max_starting`` start at
once (a hundred at once on two cores took minutes and starved each other past any timeout); the
others wait in line, which is not a fault. A starting worker is judged by ``start_timeout``; one
that has beaten, by ``heartbeat_timeout`` since its last beat.

Only the lease holder reconciles. Exits and passes are serialised by one lock, and each pass
first takes the exits the runtime has collected, so a worker that just died is judged (backoff,
quarantine) before the pass could start it again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.db import Database
from core.db.watchdog_models import WorkerState
from watchdog import metrics
from watchdog.backoff import BackoffPolicy
from watchdog.ledger import (
    CRASH_REASONS,
    Snapshot,
    account_status,
    aware,
    exit_reason,
    note_started,
    note_stopped,
    read_snapshot,
    record_exit,
    state_of,
)
from watchdog.runtimes.base import RunningWorker, WorkerExit, WorkerRuntime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timing:
    heartbeat_timeout: float = 60.0
    stop_grace: float = 15.0
    start_timeout: float = 30.0
    max_starting: int = 8


class Reconciler:
    def __init__(
        self, *, db: Database, runtime: WorkerRuntime, policy: BackoffPolicy, timing: Timing
    ) -> None:
        self._db = db
        self._runtime = runtime
        self._policy = policy
        self._timing = timing
        self._lock = asyncio.Lock()
        self._asked_to_stop: set[str] = set()  # instances we stopped on purpose
        self._hung: set[str] = set()  # instances we killed for their silence
        self._start_timed_out: set[str] = set()  # instances that never beat in time
        self._starting = 0  # in this pass: launched and not beating yet
        self.waiting = 0  # after the last pass: accounts in line to start
        # Per account, the last worker whose exit we saw: its heartbeat is stale, not a rival's.
        self._ended: dict[int, str] = {}

    async def reconcile(self) -> None:
        async with self._lock:
            running = await self._runtime.running()  # may report ends it finds only now
            for ended in self._runtime.take_exits():
                await self._judge(ended)
                running.pop(ended.account_id, None)
            async with self._db.session() as session:
                seen = await read_snapshot(session)
            now = _now()
            self._starting, self.waiting = 0, 0
            unwanted = [w for a, w in running.items() if not self._wanted(a, seen)]
            for account_id, worker in running.items():
                if worker not in unwanted:
                    await self._check_running(account_id, worker, seen, now)
            await asyncio.gather(*(self._stop(worker, seen) for worker in unwanted))
            for account_id, status in seen.statuses.items():
                if account_id not in running:
                    await self._check_idle(account_id, status, seen, now)
            self._count(seen, running)

    @property
    def busy(self) -> bool:
        """Workers are starting or waiting to: worth a pass sooner than the interval."""
        return self._starting > 0 or self.waiting > 0

    def expect_stop(self, instance: str) -> None:
        """A stop someone else asks of the runtime (an operator's restart): that worker's exit
        is judged ``stopped``, not a crash."""
        self._asked_to_stop.add(instance)

    async def drop_exits(self) -> None:
        """Not the lease holder: ends of workers we abandoned are not ours to judge."""
        async with self._lock:
            for ended in self._runtime.take_exits():
                self._ended[ended.account_id] = ended.instance

    async def _judge(self, ended: WorkerExit) -> None:
        self._ended[ended.account_id] = ended.instance
        requested = ended.instance in self._asked_to_stop
        hung = ended.instance in self._hung
        start_timed_out = ended.instance in self._start_timed_out
        self._asked_to_stop.discard(ended.instance)
        self._hung.discard(ended.instance)
        self._start_timed_out.discard(ended.instance)
        async with self._db.transaction() as session:
            status = await account_status(session, ended.account_id)
            if status is None:
                return  # the account is gone, and its state row with it
            state = await state_of(session, ended.account_id)
            if state.instance not in (None, ended.instance):
                return  # an older worker's late news: the newer one's state stands
            reason = exit_reason(
                ended,
                status=status,
                requested=requested,
                hung=hung,
                start_timed_out=start_timed_out,
            )
            state = await record_exit(
                session, ended, reason=reason, policy=self._policy, now=_now()
            )
        if state.quarantined:
            metrics.QUARANTINED.inc()
            log.error(
                "account %s quarantined after %s crashes (last exit %s)",
                ended.account_id,
                len(state.crash_times),
                ended.exit_code,
            )
        elif reason in CRASH_REASONS:
            log.warning(
                "worker of account %s ended (%s, exit %s); next start at %s",
                ended.account_id,
                reason,
                ended.exit_code,
                state.next_start_at,
            )

    @staticmethod
    def _wanted(account_id: int, seen: Snapshot) -> bool:
        state = seen.states.get(account_id)
        quarantined = state is not None and state.quarantined
        return seen.statuses.get(account_id) == "active" and not quarantined

    async def _stop(self, worker: RunningWorker, seen: Snapshot) -> None:
        """Stopped together: each may take its grace period."""
        status = seen.statuses.get(worker.account_id) or "deleted"
        log.info("stopping the worker of account %s (%s)", worker.account_id, status)
        self._asked_to_stop.add(worker.instance)
        await self._runtime.stop(worker.account_id, grace=self._timing.stop_grace)

    async def _check_running(
        self, account_id: int, worker: RunningWorker, seen: Snapshot, now: datetime
    ) -> None:
        state = seen.states.get(account_id)
        beat = seen.beats.get(account_id)
        if beat is None or beat.instance != worker.instance:  # not beating yet: starting
            self._starting += 1
            if now - worker.started_at > timedelta(seconds=self._timing.start_timeout):
                log.warning("worker of account %s did not start in time: killing it", account_id)
                self._start_timed_out.add(worker.instance)
                await self._runtime.kill(account_id)
                return
        elif now - max(worker.started_at, aware(beat.beat_at)) > timedelta(
            seconds=self._timing.heartbeat_timeout
        ):
            log.warning("worker of account %s sent no heartbeat: killing it", account_id)
            self._hung.add(worker.instance)
            await self._runtime.kill(account_id)
            return
        if state is None or state.instance != worker.instance or state.state != "running":
            # Adopted (a container a previous lease holder started) or started before a crash
            # of this watchdog: the database learns what runs.
            async with self._db.transaction() as session:
                note_started(await state_of(session, account_id), instance=worker.instance, now=now)

    async def _check_idle(
        self, account_id: int, status: str, seen: Snapshot, now: datetime
    ) -> None:
        state = seen.states.get(account_id)
        if status != "active":
            if state is not None and (state.state != "stopped" or state.quarantined):
                async with self._db.transaction() as session:
                    note_stopped(await state_of(session, account_id), reason=f"account_{status}")
            return
        if state is not None:
            if state.quarantined:
                return
            if state.next_start_at is not None and aware(state.next_start_at) > now:
                return
        beat = seen.beats.get(account_id)
        fresh = beat is not None and now - aware(beat.beat_at) < timedelta(
            seconds=self._timing.heartbeat_timeout
        )
        if beat is not None and fresh and beat.instance != self._ended.get(account_id):
            return  # a worker we do not run still beats (another watchdog's, dying): wait
        if self._starting >= self._timing.max_starting:
            self.waiting += 1  # in line: started by a later pass, as others finish starting
            return
        self._starting += 1
        await self._launch(account_id, state)

    async def _launch(self, account_id: int, state: WorkerState | None) -> None:
        instance = uuid.uuid4().hex
        try:
            worker = await self._runtime.launch(account_id, instance)
        except Exception as exc:  # the runtime refused (no image, no engine): a crash, backed off
            log.error("worker of account %s could not start: %s", account_id, exc)
            async with self._db.transaction() as session:
                note_started(await state_of(session, account_id), instance=instance, now=_now())
            await self._judge(WorkerExit(account_id, instance, None, False, str(exc)[-2000:]))
            return
        if state is not None and state.last_reason in CRASH_REASONS and state.state != "running":
            metrics.WORKER_RESTARTS.labels(state.last_reason).inc()
        async with self._db.transaction() as session:
            note_started(
                await state_of(session, account_id), instance=instance, now=worker.started_at
            )

    def _count(self, seen: Snapshot, running: dict[int, RunningWorker]) -> None:
        states = Counter(
            s.state for a, s in seen.states.items() if a not in running and s.state != "running"
        )
        states["running"] = len(running)
        for name in metrics.WORKER_STATES:
            metrics.WORKERS.labels(name).set(states.get(name, 0))


def _now() -> datetime:
    return datetime.now(UTC)
