"""The one interface between the reconciler and wherever workers run.

A runtime starts, lists, stops and kills one worker per account and reports each worker's end.
Nothing else in the watchdog knows about processes or containers, so another runtime (a
Kubernetes one: a pod per account, the pod watch as the exit stream) plugs in here alone.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

ACCOUNT_LABEL = "coolthing.account"
INSTANCE_LABEL = "coolthing.instance"
SCOPE_LABEL = "coolthing.scope"
INSTANCE_ENV = "COOLTHING_WATCHDOG_WORKER_INSTANCE"
# What every worker's environment says beyond the watchdog's own. One PostgreSQL connection
# kept (a hundred workers, a hundred connections) and one more only for an overlap: the outbox
# relay holds its connection through a publish, up to the bus's publish timeout while the broker
# is away, and the heartbeat must not queue behind it until the worker is judged hung.
WORKER_DB_ENV = {"COOLTHING_DATABASE_POOL_SIZE": "1", "COOLTHING_DATABASE_MAX_OVERFLOW": "1"}


@dataclass(frozen=True)
class RunningWorker:
    account_id: int
    instance: str  # new for every start: tells this run's heartbeats and exit from older ones
    ref: str  # the runtime's own name for it: a pid, a container id
    started_at: datetime


@dataclass(frozen=True)
class WorkerExit:
    account_id: int
    instance: str
    exit_code: int | None  # 128+N for signal N; None when the runtime could not tell
    oom_killed: bool
    log_tail: str


class WorkerRuntime(ABC):
    """Runs workers. Exits are collected in the order they happen; ``changed`` is set when one
    is waiting, so the reconciler reacts at once instead of at its next periodic pass."""

    def __init__(self) -> None:
        self._exits: list[WorkerExit] = []
        self.changed = asyncio.Event()

    def report_exit(self, ended: WorkerExit) -> None:
        self._exits.append(ended)
        self.changed.set()

    def take_exits(self) -> list[WorkerExit]:
        taken, self._exits = self._exits, []
        self.changed.clear()
        return taken

    async def open(self) -> None:  # noqa: B027 - optional hook: connect, follow events
        """Connect and begin following the workers' ends."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Stop following events; workers are left as ``abandon`` decides."""

    @abstractmethod
    async def launch(self, account_id: int, instance: str) -> RunningWorker:
        """Start the account's worker (the caller made sure none runs)."""

    @abstractmethod
    async def running(self) -> dict[int, RunningWorker]:
        """The workers alive now, by account; an ended one not reported yet is reported here."""

    @abstractmethod
    async def stop(self, account_id: int, *, grace: float) -> None:
        """Ask the worker to stop (SIGTERM), kill it after ``grace`` seconds; its exit is
        reported like any other."""

    @abstractmethod
    async def kill(self, account_id: int) -> None:
        """End the worker now (a hung one: SIGKILL works on a stopped process too)."""

    @abstractmethod
    async def abandon(self, *, grace: float) -> None:
        """This watchdog stops acting (lost its lease, shutting down): workers that cannot
        outlive it are stopped; ones the next lease holder can adopt are left running."""
