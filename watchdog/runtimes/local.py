"""Workers as local processes: ``coolthing run bots --account ID`` children of the watchdog.

Each worker gets its own process group (a stop reaches anything it spawned) and dies with the
watchdog (PR_SET_PDEATHSIG): a local worker cannot be adopted by another watchdog, so it must
not outlive this one, or a new lease holder would start a second worker for its account.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.waiting import wait_at_most
from watchdog.runtimes.base import (
    INSTANCE_ENV,
    WORKER_DB_ENV,
    RunningWorker,
    WorkerExit,
    WorkerRuntime,
)

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def default_command(account_id: int) -> list[str]:
    return [sys.executable, "-m", "coolthing", "run", "bots", "--account", str(account_id)]


# Locally, every worker on one metrics port would collide: the watchdog's is enough.
WORKER_ENV = {**WORKER_DB_ENV, "COOLTHING_METRICS_PORT": "0"}


def die_with_parent(sig: signal.Signals = signal.SIGTERM) -> None:  # pragma: no cover - child
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig)


async def keep_lines(stream: asyncio.StreamReader, lines: deque[str]) -> None:
    """Read a worker's output to its end, keeping the last lines (``lines`` has a maxlen)."""
    pending = b""
    while chunk := await stream.read(1 << 16):
        *complete, pending = (pending + chunk).split(b"\n")
        pending = pending[-4096:]  # a line without an end is kept only so far
        for raw in complete:
            lines.append(raw.decode(errors="replace").rstrip()[:2000])


@dataclass
class _Child:
    worker: RunningWorker
    process: asyncio.subprocess.Process
    lines: deque[str] = field(default_factory=deque)
    watcher: asyncio.Task[None] | None = None


class LocalRuntime(WorkerRuntime):
    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] | None = None,
        log_lines: int = 30,
    ) -> None:
        """``command``: the worker's argv with ``{account}`` for its id (the real worker by
        default); ``env``: its environment (this process's by default)."""
        super().__init__()
        self._env = dict(os.environ if env is None else env)
        self._command = list(command) if command else None
        self._log_lines = log_lines
        self._children: dict[int, _Child] = {}

    async def launch(self, account_id: int, instance: str) -> RunningWorker:
        argv = (
            [part.replace("{account}", str(account_id)) for part in self._command]
            if self._command
            else default_command(account_id)
        )
        env = {**self._env, **WORKER_ENV, INSTANCE_ENV: instance}
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,  # only a prctl: safe between fork and exec
        )
        worker = RunningWorker(account_id, instance, str(process.pid), datetime.now(UTC))
        child = _Child(worker, process, deque(maxlen=max(self._log_lines, 1)))
        self._children[account_id] = child
        child.watcher = asyncio.create_task(self._watch(child), name=f"worker-{account_id}")
        log.info("worker of account %s started (pid %s)", account_id, process.pid)
        return worker

    async def _watch(self, child: _Child) -> None:
        """Keep the last lines of the worker's output; report its end."""
        assert child.process.stdout is not None  # noqa: S101 - PIPE above
        await keep_lines(child.process.stdout, child.lines)
        code = await child.process.wait()
        exit_code = 128 - code if code < 0 else code  # -N (signal N) reads as a shell's 128+N
        if self._children.get(child.worker.account_id) is child:
            del self._children[child.worker.account_id]
        log.info("worker of account %s exited with %s", child.worker.account_id, exit_code)
        tail = "\n".join(list(child.lines)[-self._log_lines :]) if self._log_lines else ""
        self.report_exit(
            WorkerExit(child.worker.account_id, child.worker.instance, exit_code, False, tail)
        )

    async def running(self) -> dict[int, RunningWorker]:
        return {account_id: child.worker for account_id, child in self._children.items()}

    def _signal(self, child: _Child, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, sig)

    async def stop(self, account_id: int, *, grace: float) -> None:
        child = self._children.get(account_id)
        if child is None or child.watcher is None:
            return
        self._signal(child, signal.SIGTERM)
        if not await wait_at_most(asyncio.shield(child.watcher), grace):
            log.warning("worker of account %s ignored SIGTERM for %s s", account_id, grace)
            self._signal(child, signal.SIGKILL)
            await child.watcher

    async def kill(self, account_id: int) -> None:
        child = self._children.get(account_id)
        if child is not None and child.watcher is not None:
            self._signal(child, signal.SIGKILL)
            await child.watcher

    async def abandon(self, *, grace: float) -> None:
        await asyncio.gather(*(self.stop(a, grace=grace) for a in list(self._children)))

    async def close(self) -> None:
        await self.abandon(grace=0)
