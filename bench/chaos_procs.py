"""The processes of a chaos run: a supervisor that keeps parser, manager and watchdog running
(Compose's ``restart: unless-stopped`` in production) and records every exit, the processes
under the watchdog, and the CPU they all spent."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bench.notifier_setup import process_cpu

SUPERVISED = ("parser", "manager", "watchdog")
RESTART_DELAY = 0.5  # the supervisor's pause before starting an exited service again


@dataclass
class Exit:
    name: str
    code: int
    planned: bool  # killed by a fault, not by itself
    at: float  # time.monotonic()


class Supervisor:
    """Starts the services and starts any that exits again after ``RESTART_DELAY`` — what
    Compose's restart policy does in production. Exits a fault did not cause are recorded."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.exits: list[Exit] = []
        self.started_at: dict[str, float] = {}
        self._planned: set[int] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self, name: str) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "coolthing", "run", name],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.started_at[name] = time.monotonic()

    def kill(self, name: str) -> int:
        """SIGKILL the service (a fault); the supervisor starts it again. Its pid."""
        proc = self.procs[name]
        self._planned.add(proc.pid)
        proc.send_signal(signal.SIGKILL)
        return proc.pid

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.procs.items() if proc.poll() is None}

    def unplanned(self) -> list[Exit]:
        return [e for e in self.exits if not e.planned]

    async def keep_running(self) -> None:
        while True:
            for name, proc in list(self.procs.items()):
                if (code := proc.poll()) is not None:
                    planned = proc.pid in self._planned
                    self.exits.append(Exit(name, code, planned, time.monotonic()))
                    await asyncio.sleep(RESTART_DELAY)
                    self.start(name)
            await asyncio.sleep(0.1)

    def __enter__(self) -> Supervisor:
        for name in SUPERVISED:
            self.start(name)
        self._task = asyncio.create_task(self.keep_running(), name="supervisor")
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
        procs = list(self.procs.values())
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def descendants(root: int) -> set[int]:
    """Every live process under ``root`` (the watchdog's workers, whether it execs them or forks
    them from its fork server)."""
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            children[int(fields[1])].append(int(stat.parent.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


@dataclass
class CpuMeter:
    """CPU seconds of our processes (parser, manager, watchdog, workers), each pid's last reading
    kept after it is gone: sampled every ``every`` seconds, so a killed process's last fraction
    of a second is not counted."""

    seen: dict[int, float] = field(default_factory=dict)

    def sample(self, pids: list[int]) -> None:
        for pid in pids:
            if (spent := process_cpu(pid)) > 0:
                self.seen[pid] = max(self.seen.get(pid, 0.0), spent)

    def total(self) -> float:
        return sum(self.seen.values())
