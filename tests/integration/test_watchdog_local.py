"""The watchdog with the local-process runtime: real `coolthing run bots` workers on the real
PostgreSQL and RabbitMQ against the sandbox Telegram."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from bots.exit_codes import EXIT_ACCOUNT_UNUSABLE
from core.db.models import Chat, ChatAssignment
from sandbox.bootstrap import RunningSandbox
from sandbox.faults import AccountFault, FloodWaitFault, apply_fault
from tests.conftest import eventually
from tests.integration.watchdog_rig import FAST, Rig, open_rig, sampled
from watchdog.runtimes.forked import ForkedRuntime

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def rig(postgres_url: str, amqp_url: str, sandbox: RunningSandbox) -> AsyncIterator[Rig]:
    async for made in open_rig(
        postgres_url, amqp_url, sandbox, lambda env: ForkedRuntime(env=env, log_lines=20)
    ):
        yield made


def workers_of(account_id: int, *, parent: int | None = None) -> list[int]:
    """Live `bots` processes for the account among this test process's descendants (or those
    of ``parent``): exec'd workers are its children, forked ones its fork server's, and both
    read as `… run bots --account ID` in ps (a forked one through its process title)."""
    ancestor = os.getpid() if parent is None else parent
    parents: dict[int, int] = {}
    commands: dict[int, bytes] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").strip()
        except OSError:
            continue
        if fields[0] != "Z":
            pid = int(stat.parent.name)
            parents[pid], commands[pid] = int(fields[1]), command
    wanted = f"run bots --account {account_id}".encode()
    return [
        pid
        for pid, command in commands.items()
        if command.endswith(wanted) and _descends(pid, ancestor, parents)
    ]


def _descends(pid: int, ancestor: int, parents: dict[int, int]) -> bool:
    while pid in parents and pid > 1:
        pid = parents[pid]
        if pid == ancestor:
            return True
    return False


async def one_worker(account_id: int, *, seconds: float = 20, other_than: int = 0) -> int:
    async def probe() -> int | None:
        pids = [p for p in workers_of(account_id) if p != other_than]
        return pids[0] if len(pids) == 1 else None

    return await eventually(probe, seconds=seconds, what=f"one worker for account {account_id}")


async def test_one_worker_per_active_account_and_a_paused_one_is_stopped(rig: Rig) -> None:
    active = await rig.account("first")
    paused = await rig.account("second", status="paused")
    await rig.watchdog("a")
    await one_worker(active)

    async def beating() -> bool:
        beat = await rig.beat(active)
        state = await rig.state(active)
        return beat is not None and state is not None and beat.instance == state.instance

    await eventually(beating, seconds=20, what="the worker's heartbeat")
    assert workers_of(paused) == []

    await rig.set_status(active, "paused")
    await eventually(lambda: _none(active), seconds=15, what="the paused account's worker to stop")
    state = await rig.until_state(
        active, lambda s: s.state == "stopped", seconds=5, what="state stopped"
    )
    assert state.last_reason == "account_paused" and state.restarts == 0


async def _none(account_id: int) -> bool:
    return not workers_of(account_id)


async def test_a_killed_worker_is_back_at_once(rig: Rig) -> None:
    account = await rig.account("first")
    await rig.watchdog("a")
    pid = await one_worker(account)
    os.kill(pid, signal.SIGKILL)
    await one_worker(account, seconds=8, other_than=pid)  # the first restart does not wait
    state = await rig.until_state(
        account, lambda s: s.state == "running" and s.restarts == 1, seconds=5, what="restart"
    )
    assert state.last_exit_code == 128 + signal.SIGKILL
    assert state.last_reason == "crash"


async def test_a_crash_loop_backs_off_then_quarantines_and_is_announced(rig: Rig) -> None:
    account = await rig.account("broken", garbage=True)  # its worker dies at start
    await rig.watchdog("a")
    state = await rig.until_state(
        account, lambda s: s.quarantined, seconds=40, what="the account to be quarantined"
    )
    assert state.state == "quarantined"
    assert state.restarts == 3 and state.last_exit_code == 2
    assert "cannot be decrypted" in (state.last_log or "")
    times = [datetime.fromisoformat(t) for t in state.crash_times]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    # The second start waited for the base backoff (1 s, less up to 20 % jitter); the first
    # came at once (its gap is only a worker's start-up).
    assert gaps[1] >= 0.8 and gaps[1] > gaps[0] - 0.5
    (body,) = await rig.outbox("worker.crashed")
    payload = json.loads(body)["payload"]
    assert payload["account_id"] == account and payload["quarantined"] is True
    assert payload["exit_code"] == 2 and "cannot be decrypted" in payload["log_tail"]
    assert await sampled(lambda: len(workers_of(account)), 1.5) == 0  # no more restarts


async def test_a_banned_account_is_not_restarted(rig: Rig) -> None:
    account = await rig.account("first")
    await rig.watchdog("a")
    await one_worker(account)
    apply_fault(rig.sandbox.world, AccountFault(kind="ban", account=rig.sandbox_users[account]))
    state = await rig.until_state(
        account, lambda s: s.last_exit_code is not None, seconds=30, what="the worker's exit"
    )
    # The worker marks the account and exits with 78, unless the watchdog saw the mark first
    # and stopped it (0, or 143 when the SIGTERM came as the worker was already leaving):
    # either way the ban, not a crash.
    assert state.last_exit_code in (EXIT_ACCOUNT_UNUSABLE, 0, 128 + signal.SIGTERM)
    assert state.last_reason == "account_banned"
    assert state.state == "stopped" and state.restarts == 0 and not state.quarantined
    row = await rig.account_row(account)
    assert row is not None and row.status == "banned"
    assert await sampled(lambda: len(workers_of(account)), 2.0) == 0
    assert await rig.outbox("worker.crashed") == []


async def test_two_watchdogs_never_run_two_workers_for_one_account(rig: Rig) -> None:
    accounts = [await rig.account(name) for name in ("first", "second")]
    first = await rig.watchdog("a")
    await rig.watchdog("b")
    for account in accounts:
        await one_worker(account)
    most = await sampled(lambda: max(len(workers_of(a)) for a in accounts), 2.0)
    assert most == 1
    holder = first if first.lease.held else rig.watchdogs[1]
    await holder.stop()  # the other takes over: the workers stop, then start under it
    rig.watchdogs.remove(holder)
    for account in accounts:
        await one_worker(account, seconds=20)
    assert await sampled(lambda: max(len(workers_of(a)) for a in accounts), 1.0) == 1
    assert rig.watchdogs[0].lease.held


async def test_a_hung_worker_is_killed_and_restarted(rig: Rig) -> None:
    account = await rig.account("first")
    await rig.watchdog("a")
    pid = await one_worker(account)
    await eventually(lambda: rig.beat(account), seconds=20, what="its first heartbeat")
    os.kill(pid, signal.SIGSTOP)  # no more heartbeats, and no exit either
    await one_worker(account, seconds=30, other_than=pid)
    state = await rig.until_state(
        account, lambda s: s.state == "running", seconds=5, what="the new worker"
    )
    assert state.last_reason == "hung" and state.restarts == 1


async def test_a_worker_whose_account_cannot_be_used_exits_with_78(rig: Rig) -> None:
    account = await rig.account("first", status="revoked")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "coolthing",
        "run",
        "bots",
        "--account",
        str(account),
        env=rig.worker_env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert await asyncio.wait_for(process.wait(), 30) == EXIT_ACCOUNT_UNUSABLE


async def test_a_flood_wait_longer_than_the_heartbeat_timeout_is_no_restart(rig: Rig) -> None:
    account = await rig.account("first")
    rig.sandbox.world.add_chat("flood_chat", "Flood")
    async with rig.db.transaction() as session:
        chat = Chat(ref="@flood_chat", title="Flood")
        session.add(chat)
        await session.flush()
        session.add(ChatAssignment(chat_id=chat.id, account_id=account))
    wait = FloodWaitFault(
        kind="flood_wait", account=rig.sandbox_users[account], seconds=12, operation="join"
    )
    apply_fault(rig.sandbox.world, wait)  # its first join waits 12 s
    await rig.watchdog("a")
    pid = await one_worker(account)

    async def flooded() -> bool:
        row = await rig.account_row(account)
        return row is not None and row.flood_until is not None

    await eventually(flooded, seconds=20, what="the worker to run into the FloodWait")
    # Longer than the 10 s heartbeat timeout: the worker waits, beats, and is left alone.
    assert await sampled(lambda: int(workers_of(account) != [pid]), 11.0) == 0
    state = await rig.state(account)
    assert state is not None and state.restarts == 0 and state.state == "running"


async def test_the_watchdog_service_runs_workers_that_die_with_it(rig: Rig) -> None:
    """`coolthing run watchdog` as its own process: its workers are its children, and when it
    is killed they stop too (a new lease holder could not adopt them), so the next watchdog
    starts exactly one worker again."""
    account = await rig.account("first")
    settings = {f"COOLTHING_{k.upper()}": str(v) for k, v in FAST.items()}
    service = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "coolthing",
        "run",
        "watchdog",
        env=rig.worker_env | settings,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        first = await eventually(
            lambda: _one_of(account, service.pid), seconds=30, what="the service's worker"
        )
    finally:
        service.kill()
        await service.wait()

    async def gone() -> bool:
        return _ended(first)

    await eventually(gone, seconds=20, what="the orphaned worker to stop")
    await rig.watchdog("b")
    await one_worker(account, seconds=30)


async def _one_of(account_id: int, parent: int) -> int | None:
    pids = workers_of(account_id, parent=parent)
    return pids[0] if len(pids) == 1 else None


def _ended(pid: int) -> bool:
    """Gone, or a zombie waiting for whoever inherited it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
