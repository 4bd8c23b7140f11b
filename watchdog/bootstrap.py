"""Build the watchdog from settings (the one place that picks the runtime) and run its loop."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid

from core.db import Database
from core.platform import Platform
from core.settings import Settings
from watchdog.backoff import BackoffPolicy
from watchdog.commands import hands_of, serve_commands
from watchdog.lease import Lease
from watchdog.reconciler import Reconciler, Timing
from watchdog.runtimes.base import WorkerRuntime

log = logging.getLogger(__name__)

# Between passes while workers start or wait to: a worker's first heartbeat reaches the watchdog
# only through the database, so the line moves at the pace of the passes.
BUSY_INTERVAL = 0.25


class Watchdog:
    """Holds (or waits for) the lease; while it holds it, reconciles on every worker exit and
    every ``interval`` seconds; when it loses it, lets go of what cannot be adopted."""

    def __init__(
        self,
        *,
        lease: Lease,
        runtime: WorkerRuntime,
        reconciler: Reconciler,
        interval: float,
        stop_grace: float,
    ) -> None:
        self.lease = lease
        self.runtime = runtime
        self.reconciler = reconciler
        self._interval = interval
        self._stop_grace = stop_grace
        self._tasks: list[asyncio.Task[None]] = []
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """Reconcile now rather than at the next interval (an operator's command changed a row)."""
        self._woken.set()

    async def start(self) -> None:
        await self.runtime.open()
        self._tasks = [
            asyncio.create_task(self.lease.keep(), name="watchdog-lease"),
            asyncio.create_task(self._loop(), name="watchdog-loop"),
        ]

    async def stop(self) -> None:
        """Stop acting, let go of the workers that die with us, hand the lease on at once."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.runtime.abandon(grace=self._stop_grace)
        await self.reconciler.drop_exits()
        await self.lease.release()
        await self.runtime.close()

    async def _loop(self) -> None:
        acting = False
        while True:
            if self.lease.held:
                acting = True
                try:
                    await self.reconciler.reconcile()
                except Exception:  # the loop outlives any one pass (database, Docker hiccups)
                    log.exception("watchdog pass failed; trying again")
            else:
                if acting:
                    log.warning("watchdog lost its lease: letting go of its workers")
                    await self.runtime.abandon(grace=self._stop_grace)
                    acting = False
                await self.reconciler.drop_exits()
            await self._news()

    async def _news(self) -> None:
        """Sleep until a worker ends, the lease changes hands, or the interval passes."""
        waits = [
            asyncio.ensure_future(self.runtime.changed.wait()),
            asyncio.ensure_future(self.lease.changed.wait()),
            asyncio.ensure_future(self._woken.wait()),
        ]
        try:
            interval = (
                min(self._interval, BUSY_INTERVAL) if self.reconciler.busy else self._interval
            )
            await asyncio.wait(waits, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        self.lease.changed.clear()
        self._woken.clear()


def policy_of(settings: Settings) -> BackoffPolicy:
    return BackoffPolicy(
        base=settings.watchdog_backoff_base,
        cap=settings.watchdog_backoff_cap,
        reset_after=settings.watchdog_backoff_reset,
        quarantine_crashes=settings.watchdog_quarantine_crashes,
        quarantine_window=settings.watchdog_quarantine_window,
    )


def runtime_of(settings: Settings) -> WorkerRuntime:
    if settings.watchdog_runtime == "docker":
        from watchdog.runtimes.docker import DockerRuntime

        return DockerRuntime.from_settings(settings)
    if settings.watchdog_local_mode == "fork":
        from watchdog.runtimes.forked import ForkedRuntime

        return ForkedRuntime(
            log_lines=settings.watchdog_log_lines, grace=settings.watchdog_stop_grace
        )
    from watchdog.runtimes.local import LocalRuntime

    return LocalRuntime(log_lines=settings.watchdog_log_lines)


def build_watchdog(
    settings: Settings, db: Database, runtime: WorkerRuntime, *, holder: str | None = None
) -> Watchdog:
    """Tests pass their own runtime (a local one with a test command, a Docker one on a test
    image) and holder name; production takes both from the settings and the host."""
    holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    lease = Lease(
        db,
        holder=holder,
        ttl=settings.watchdog_lease_ttl,
        renew_every=settings.watchdog_lease_renew,
    )
    timing = Timing(
        heartbeat_timeout=settings.watchdog_heartbeat_timeout,
        stop_grace=settings.watchdog_stop_grace,
        start_timeout=settings.watchdog_start_timeout,
        max_starting=settings.watchdog_max_starting,
    )
    reconciler = Reconciler(db=db, runtime=runtime, policy=policy_of(settings), timing=timing)
    return Watchdog(
        lease=lease,
        runtime=runtime,
        reconciler=reconciler,
        interval=settings.watchdog_reconcile_interval,
        stop_grace=settings.watchdog_stop_grace,
    )


async def start_watchdog(platform: Platform) -> Watchdog:
    """The watchdog, running, and answering operators' ``command.worker`` (restart, release)."""
    settings = platform.settings
    watchdog = build_watchdog(settings, platform.db, runtime_of(settings))
    await watchdog.start()
    hands = hands_of(watchdog, stop_grace=settings.watchdog_stop_grace)
    await serve_commands(platform.bus, platform.db, hands=hands, wake=watchdog.wake)
    return watchdog
