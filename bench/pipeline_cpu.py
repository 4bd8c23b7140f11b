"""CPU seconds per process class over a measured window, read from ``/proc``.

Each process's CPU is ``utime + stime`` of ``/proc/<pid>/stat`` (its children excluded), in clock
ticks. A snapshot at the start of the offered-load window and one at its end give each class's
CPU; a process that started inside the window counts from zero, and one that ends inside it (a
PostgreSQL connection beyond a pool) counts up to the last of the snapshots taken every half
second in between.

The broker and the database may be shared with other work on the machine. RabbitMQ is the
``beam.smp`` that listens on the bench's AMQP port: all of its vhosts, so the bench measures the
node idle over as long a window and subtracts that. PostgreSQL is the postmaster that listens on
the bench's port and its children: backends of the bench's database count in full; backends of
other databases do not count; the postmaster and background processes (WAL writer, checkpointer,
autovacuum …) count minus their idle rate, as the broker.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")
BACKGROUND = "postgres_background"  # the class of the postmaster and its background processes
DRIVER_DB = "driver_postgres"  # the backend serving the bench's own polling for lead hits

# "postgres: [cluster: ]user database host(port) state…": a backend's process title.
BACKEND_TITLE = re.compile(r"^postgres: (?:\S+: )?(\S+) (\S+) (?:\S+\(\d+\)|\[local\])")

Snapshot = dict[tuple[str, int], float]  # (class, pid or native thread id) → CPU seconds so far


def stat_cpu(stat: str, ticks: int = TICKS) -> float:
    """utime + stime in seconds from a ``/proc/<pid>/stat`` line (its command may hold spaces)."""
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / ticks


def stat_ppid(stat: str) -> int:
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def postgres_class(cmdline: str, database: str) -> str | None:
    """A PostgreSQL child's class from its process title: the bench's backend, background
    work, or ``None`` for another database's backend."""
    title = cmdline.replace("\0", " ").strip()
    backend = BACKEND_TITLE.match(title)
    if backend is None:
        return BACKGROUND
    return "postgres" if backend.group(2) == database else None


def listening_inodes(port: int, tables: Iterable[str]) -> set[str]:
    """Socket inodes listening on ``port`` in ``/proc/net/tcp``-format tables."""
    inodes = set()
    for table in tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(inode)
    return inodes


def per_thousand(seconds: float, messages: int) -> float:
    return seconds / messages * 1000 if messages else float("nan")


def window_cpu(start: Snapshot, end: Snapshot) -> dict[str, float]:
    """CPU seconds per class between two snapshots; a pid new at the end counts from zero."""
    spent: dict[str, float] = {}
    for key, cpu in end.items():
        spent[key[0]] = spent.get(key[0], 0.0) + max(cpu - start.get(key, 0.0), 0.0)
    return spent


def less_idle(spent: float, idle_rate: float, seconds: float) -> float:
    """A shared process's CPU in a window minus what it spends idle in as long a window."""
    return max(spent - idle_rate * seconds, 0.0)


@dataclass(frozen=True)
class Window:
    """One measured window: each class's CPU seconds, its length and the messages offered."""

    cpu: Mapping[str, float]
    seconds: float
    messages: int

    def net(self, name: str, idle: Mapping[str, float]) -> float:
        """A class's CPU, less its idle rate (CPU seconds per second) where it has one."""
        return less_idle(self.cpu.get(name, 0.0), idle.get(name, 0.0), self.seconds)

    def per_thousand(self, name: str, idle: Mapping[str, float]) -> float:
        return per_thousand(self.net(name, idle), self.messages)


def ours_per_thousand(window: Window, idle: Mapping[str, float]) -> dict[str, float]:
    """The classes the final line reports: our services, the shared servers, and what is not ours
    (the sandbox, with the audience that posts the load inside it, and the bench's own driver)."""
    postgres = window.net("postgres", idle) + window.net(BACKGROUND, idle)
    return {
        "workers": window.per_thousand("workers", idle),
        "parser": window.per_thousand("parser", idle),
        "rabbitmq": window.per_thousand("rabbitmq", idle),
        "postgres": per_thousand(postgres, window.messages),
        "sandbox": window.per_thousand("sandbox", idle),
        "load": window.per_thousand("load", idle),
    }


def baseline_per_thousand(window: Window, idle: Mapping[str, float]) -> dict[str, float]:
    """The direct path's thread, its PostgreSQL share (backends + background less idle, as ours;
    the broker is not used), and what is not ours."""
    direct = window.per_thousand("direct", idle)
    postgres = per_thousand(
        window.net("postgres", idle) + window.net(BACKGROUND, idle), window.messages
    )
    return {
        "direct": direct,
        "postgres": postgres,
        "total": direct + postgres,
        "sandbox": window.per_thousand("sandbox", idle),
        "load": window.per_thousand("load", idle),
    }


OURS = ("workers", "parser", "rabbitmq", "postgres")


def ours_total(cpu: Mapping[str, float]) -> float:
    return sum(cpu[name] for name in OURS)


# ---- reading /proc -------------------------------------------------------------------------------


def read_cpu(path: Path) -> float | None:
    """CPU seconds of the process or thread whose ``stat`` file is ``path``; ``None`` if gone."""
    try:
        return stat_cpu(path.read_text())
    except (OSError, ValueError, IndexError):
        return None


def _pids() -> list[int]:
    return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]


def _listener(port: int) -> int | None:
    """The pid holding the socket that listens on ``port`` (needs to read other users' fds)."""
    tables = []
    for name in ("tcp", "tcp6"):
        try:
            tables.append((PROC / "net" / name).read_text())
        except OSError:
            continue
    wanted = {f"socket:[{inode}]" for inode in listening_inodes(port, tables)}
    for pid in _pids():
        try:
            if any(os.readlink(fd) in wanted for fd in (PROC / str(pid) / "fd").iterdir()):
                return pid
        except OSError:
            continue
    return None


@dataclass
class Meter:
    """Which pids belong to which class, and snapshots of their CPU.

    ``pids`` are this run's own processes (class → pids); ``threads`` are threads of this process
    (class → native thread ids), whose CPU is taken out of the ``load`` class of this process.
    """

    pg_port: int
    database: str
    amqp_port: int
    pids: dict[str, list[int]]
    threads: dict[str, list[int]]
    driver_backend: int | None = None  # not ours: the bench's polling for lead hits
    rabbit_pid: int | None = None
    postmaster: int | None = None

    def locate(self) -> None:
        """Find the broker and the postmaster by the ports they listen on."""
        self.rabbit_pid = _listener(self.amqp_port)
        self.postmaster = _listener(self.pg_port)

    def snapshot(self) -> Snapshot:
        shot: Snapshot = {}
        for name, pids in self.pids.items():
            for pid in pids:
                cpu = read_cpu(PROC / str(pid) / "stat")
                if cpu is not None:
                    shot[(name, pid)] = cpu
        me = os.getpid()
        load = read_cpu(PROC / str(me) / "stat") or 0.0
        for name, tids in self.threads.items():
            for tid in tids:
                cpu = read_cpu(PROC / str(me) / "task" / str(tid) / "stat")
                if cpu is not None:
                    shot[(name, tid)] = cpu
                    load -= cpu
        shot[("load", me)] = load
        if self.rabbit_pid is not None:
            cpu = read_cpu(PROC / str(self.rabbit_pid) / "stat")
            if cpu is not None:
                shot[("rabbitmq", self.rabbit_pid)] = cpu
        if self.postmaster is not None:
            shot.update(self._postgres())
        return shot

    def _postgres(self) -> Snapshot:
        assert self.postmaster is not None
        shot: Snapshot = {}
        for pid in _pids():
            base = PROC / str(pid)
            try:
                stat = (base / "stat").read_text()
                if pid != self.postmaster and stat_ppid(stat) != self.postmaster:
                    continue
                name = postgres_class((base / "cmdline").read_text(), self.database)
            except (OSError, ValueError, IndexError):
                continue
            if pid == self.postmaster:
                name = BACKGROUND
            elif pid == self.driver_backend:
                name = DRIVER_DB
            if name is not None:
                shot[(name, pid)] = stat_cpu(stat)
        return shot
