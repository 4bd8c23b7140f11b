"""The world ``bench.workers`` measures in: the sandbox Telegram as its own process, ``--accounts``
sandbox accounts with sessions, each with an own chat to join, added to a fresh PostgreSQL schema
in one transaction by the workspace's own ``apply_workspace`` (the CLI's and the panel's path);
readings from /proc (RSS, PSS, CPU) of the processes serving them.

Run as ``python -m bench.workers_world ID …`` it is the baseline: every listed account's worker
(``bots.bootstrap.run_worker``, heartbeat included) in this one process, as ``coolthing demo`` runs
them, on the settings of the environment.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from admin.workspace.apply import apply_workspace, parse_workspace
from bench.notifier_setup import process_cpu
from core.db import Database
from core.db.models import Account, Chat
from core.db.scene_models import SceneMember
from core.db.watchdog_models import WorkerHeartbeat, WorkerState
from core.security import SecretBox

# The sandbox's Telegram-like limits are not what is measured (100 logins and joins at once).
UNLIMITED = {
    "messages_per_minute": 1e7,
    "message_burst": 1e6,
    "joins_per_hour": 1e7,
    "join_burst": 1e6,
}


def chat_ref(n: int) -> str:
    return f"bench_w_{n}"


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of one process in MB; PSS shares each shared page among its users, so PSS
    summed over processes is what they cost together (0, 0 once the process is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0.0, 0.0
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    pss = next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
    return rss / 1024, pss / 1024


def children_cpu(pid: int) -> float:
    """CPU seconds of a process's ended children it waited for (cutime + cstime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def cpu_of(pids: list[int]) -> float:
    return sum(process_cpu(pid) for pid in pids)


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


async def restarts_so_far(db: Database) -> int:
    async with db.session() as session:
        found = await session.scalar(text("select coalesce(sum(restarts), 0) from worker_states"))
    return int(found or 0)


async def watchdog_holds_lease(db: Database) -> bool:
    async with db.session() as session:
        found = await session.scalar(text("select count(*) from watchdog_leases"))
    return bool(found)


def alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if memory_mb(pid) != (0.0, 0.0)]


def fork_server_of(watchdog: int) -> int | None:
    """The watchdog's fork server (``--mode fork``), None under exec."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == watchdog and b"fork_server" in command:
            return int(stat.parent.name)
    return None


def kills_in(log_path: Path) -> dict[str, int]:
    """Workers the watchdog killed, by why, as its log tells (WARNING lines)."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return {
        "hung": text.count("sent no heartbeat: killing it"),
        "start_timeout": text.count("did not start in time: killing it"),
    }


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def spread(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values, default=float("nan")), 2),
    }


def memory_of(pids: list[int]) -> tuple[list[float], list[float]]:
    readings = [memory_mb(pid) for pid in pids]
    return [rss for rss, _ in readings], [pss for _, pss in readings]


def core_pct(seconds: float, window: float, accounts: int) -> float:
    """CPU seconds over a window as % of one core per account."""
    return round(seconds / window / accounts * 100, 3)


def listed(seconds: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in seconds)


@dataclass
class Postgres:
    """The server's processes by its postmaster: CPU of this server only, not of others on the
    machine."""

    postmaster: int
    max_connections: int

    @classmethod
    async def of(cls, db: Database) -> Postgres:
        async with db.session() as session:
            backend = int(await session.scalar(text("select pg_backend_pid()")) or 0)
            limit = int(await session.scalar(text("show max_connections")) or 0)
        # A backend is a child of the postmaster (the server must run on this machine).
        return cls(parent_of(backend), limit)

    def cpu(self) -> float:
        spent = process_cpu(self.postmaster) + children_cpu(self.postmaster)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.postmaster:
                spent += process_cpu(int(stat.parent.name))
        return spent


@dataclass
class World:
    db: Database
    http: aiohttp.ClientSession
    key: bytes = field(default_factory=Fernet.generate_key)
    accounts: list[int] = field(default_factory=list)  # account ids, in order
    users: dict[int, int] = field(default_factory=dict)  # account id → sandbox user id
    chats: dict[int, str] = field(default_factory=dict)  # account id → its chat's ref

    async def call(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        async with self.http.request(method, path, json=body) as response:
            payload: dict[str, Any] = await response.json()
        if not payload.get("ok"):
            raise RuntimeError(f"sandbox refused {method} {path}: {payload}")
        return payload

    async def prepare(self, count: int) -> list[tuple[str, int]]:
        """Sandbox accounts with sessions and a chat each; (session, user id) of each."""
        await self.call("PATCH", "/_sandbox/limits", {"account": UNLIMITED})
        made = []
        for n in range(count):
            account = await self.call("POST", "/_sandbox/accounts", {"first_name": f"Worker{n}"})
            await self.call("POST", "/_sandbox/chats", {"ref": chat_ref(n), "title": f"W{n}"})
            made.append((str(account["session"]), int(account["user_id"])))
        return made

    async def add(self, made: list[tuple[str, int]]) -> float:
        """Every account, its own chat and its seat there in one transaction (the watchdog sees
        all or none); the wall-clock moment it committed (``time.time``)."""
        spec_text = json.dumps(
            {
                "accounts": [
                    {"name": f"w-{n}", "role": "scripts", "session": session}
                    for n, (session, _) in enumerate(made)
                ],
                "chats": [
                    {"ref": f"@{chat_ref(n)}", "title": f"W{n}", "own": True}
                    for n in range(len(made))
                ],
            }
        )
        spec, located = parse_workspace(spec_text, "bench-workers.json")
        async with self.db.transaction() as session:
            await apply_workspace(session=session, spec=spec, located=located, box=self.box)
            await session.flush()
            named = dict((await session.execute(select(Account.name, Account.id))).all())
            refs = dict((await session.execute(select(Chat.ref, Chat.id))).all())
            for n, (_, user) in enumerate(made):
                account_id = int(named[f"w-{n}"])
                self.accounts.append(account_id)
                self.users[account_id] = user
                self.chats[account_id] = chat_ref(n)
                chat_id = int(refs[f"@{chat_ref(n)}"])
                session.add(SceneMember(account_id=account_id, chat_id=chat_id))
        return time.time()

    @property
    def box(self) -> SecretBox:
        return SecretBox(self.key)

    async def beats(self) -> dict[int, tuple[int, float]]:
        """account id → (pid, started_at) of its heartbeat row."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(WorkerHeartbeat.account_id, WorkerHeartbeat.pid, WorkerHeartbeat.beat_at)
            )
            return {int(a): (int(pid), beat.timestamp()) for a, pid, beat in rows}

    async def joined(self) -> set[int]:
        """Accounts that are members of their own chat in the sandbox."""
        listed = (await self.call("GET", "/_sandbox/chats"))["chats"]
        members = {c["ref"].lstrip("@"): set(c["members"]) for c in listed}
        return {a for a in self.accounts if self.users[a] in members.get(self.chats[a], set())}

    async def launched_at(self, account_id: int) -> float:
        """When the watchdog last launched the account's worker (``time.time``)."""
        async with self.db.session() as session:
            state = await session.get(WorkerState, account_id)
        if state is None or state.started_at is None:
            return float("nan")
        return state.started_at.timestamp()

    async def clear_beats(self) -> None:
        async with self.db.transaction() as session:
            await session.execute(text("delete from worker_heartbeats"))


async def serve_in_one_process(account_ids: list[int]) -> None:
    """The baseline: every account's worker in this process, until SIGTERM."""
    from bots.bootstrap import run_worker
    from core.platform import open_platform
    from core.settings import Settings

    settings = Settings()
    async with open_platform(settings) as platform:
        workers = [
            asyncio.create_task(run_worker(platform, a, join_interval=settings.join_interval))
            for a in account_ids
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)


def _main() -> None:
    import signal

    async def run() -> None:
        task = asyncio.current_task()
        assert task is not None  # inside asyncio.run
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await serve_in_one_process([int(a) for a in sys.argv[1:]])

    try:
        asyncio.run(run())
    except asyncio.CancelledError:
        pass


if __name__ == "__main__":
    _main()
