"""The forked local runtime: workers forked from a warm fork server, on the real PostgreSQL and
RabbitMQ against the sandbox Telegram (the watchdog's common scenarios run on it in
test_watchdog_local.py; here, what is particular to the fork server)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from statistics import median
from typing import cast
from urllib.parse import urlsplit

import pytest

from sandbox.bootstrap import RunningSandbox
from tests.conftest import eventually
from tests.integration.test_watchdog_local import _ended, one_worker, workers_of
from tests.integration.watchdog_rig import Rig, open_rig
from watchdog.runtimes.base import WorkerExit
from watchdog.runtimes.forked import ForkedRuntime

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def rig(postgres_url: str, amqp_url: str, sandbox: RunningSandbox) -> AsyncIterator[Rig]:
    async for made in open_rig(
        postgres_url, amqp_url, sandbox, lambda env: ForkedRuntime(env=env, log_lines=20)
    ):
        yield made


async def test_the_fork_servers_death_takes_its_workers_and_the_runtime_recovers(
    rig: Rig,
) -> None:
    account = await rig.account("first")
    watchdog = await rig.watchdog("a")
    runtime = cast(ForkedRuntime, watchdog.runtime)
    first = await one_worker(account)
    server = runtime.server_pid
    assert server is not None
    os.kill(server, signal.SIGKILL)

    async def gone() -> bool:
        return _ended(first)

    await eventually(gone, seconds=10, what="the worker to die with it")
    second = await one_worker(account, seconds=30, other_than=first)
    assert runtime.server_pid not in (None, server)  # a new server forked the new worker
    state = await rig.until_state(
        account, lambda s: s.state == "running" and s.restarts == 1, seconds=10, what="restart"
    )
    assert state.last_exit_code is None and state.last_reason == "crash"  # nobody could tell
    assert workers_of(account) == [second]


async def test_a_server_told_to_end_stops_its_workers_and_kills_one_that_does_not_stop(
    rig: Rig,
) -> None:
    """The watchdog's death reaches the server as SIGTERM (its parent-death signal): it stops
    its workers itself, and one that cannot act on SIGTERM (here: stopped) is killed after the
    grace, so no worker outlives the watchdog."""
    account = await rig.account("first")
    runtime = ForkedRuntime(env=rig.worker_env, grace=1.0)
    await runtime.open()
    try:
        worker = await runtime.launch(account, "instance-1")
        await eventually(lambda: _beating(rig, account), seconds=30, what="the first heartbeat")
        pid, server = int(worker.ref), runtime.server_pid
        assert server is not None
        os.kill(pid, signal.SIGSTOP)
        os.kill(server, signal.SIGTERM)

        async def gone() -> bool:
            return _ended(pid) and _ended(server)

        await eventually(gone, seconds=10, what="the server and its stopped worker to end")

        async def reported() -> list[WorkerExit] | None:
            return runtime.take_exits() or None

        (exit_,) = await eventually(reported, seconds=10, what="the worker's exit")
        assert exit_.exit_code in (None, 128 + signal.SIGKILL)
    finally:
        await runtime.close()


async def test_a_forked_worker_reports_its_exit_code_and_its_last_lines(rig: Rig) -> None:
    account = await rig.account("broken", garbage=True)  # its secret cannot be decrypted
    runtime = ForkedRuntime(env=rig.worker_env, log_lines=20)
    await runtime.open()
    try:
        worker = await runtime.launch(account, "instance-1")
        assert int(worker.ref) > 0

        async def ended() -> list[WorkerExit] | None:
            return runtime.take_exits() or None

        (exit_,) = await eventually(ended, seconds=30, what="the worker's exit")
    finally:
        await runtime.close()
    assert exit_.account_id == account and exit_.instance == "instance-1"
    assert exit_.exit_code == 2  # `coolthing run bots` on a secret no key opens
    assert "cannot be decrypted" in exit_.log_tail
    assert await runtime.running() == {}


async def test_a_forked_worker_is_stopped_with_sigterm_and_exits_cleanly(rig: Rig) -> None:
    account = await rig.account("first")
    runtime = ForkedRuntime(env=rig.worker_env)
    await runtime.open()
    try:
        await runtime.launch(account, "instance-1")
        await eventually(lambda: _beating(rig, account), seconds=30, what="the first heartbeat")
        await runtime.stop(account, grace=10)
        (exit_,) = runtime.take_exits()
    finally:
        await runtime.close()
    assert exit_.exit_code == 0, exit_.log_tail  # asyncio's SIGTERM handler ran: a clean stop
    assert await rig.beat(account) is None  # it cleared its own heartbeat on the way out


async def test_a_worker_holds_one_postgresql_and_one_rabbitmq_connection(
    rig: Rig, postgres_url: str, amqp_url: str
) -> None:
    account = await rig.account("first")
    await rig.watchdog("a")
    pid = await one_worker(account)
    await eventually(lambda: _beating(rig, account), seconds=30, what="the first heartbeat")
    pg_port = urlsplit(postgres_url).port or 5432
    amqp_port = urlsplit(amqp_url).port or 5672
    samples = []
    for _ in range(20):  # 2 s: a few heartbeats (every 0.5 s here) and relay passes
        samples.append(_connections(pid))
        await asyncio.sleep(0.1)
    database = [ports.count(pg_port) for ports in samples]
    broker = [ports.count(amqp_port) for ports in samples]
    assert median(database) == 1 and max(database) <= 2, database  # the overflow: rare
    assert set(broker) == {1}, broker


async def test_workers_start_one_at_a_time_when_the_line_is_one_long(rig: Rig) -> None:
    accounts = [await rig.account(name) for name in ("first", "second", "third")]
    await rig.watchdog("a", watchdog_max_starting=1)

    async def all_beating() -> bool:
        return all([await _beating(rig, account) for account in accounts])

    await eventually(all_beating, seconds=40, what="every worker's heartbeat")
    for account in accounts:
        state = await rig.state(account)
        assert state is not None and state.state == "running" and state.restarts == 0


async def _beating(rig: Rig, account: int) -> bool:
    return await rig.beat(account) is not None


def _connections(pid: int) -> list[int]:
    """The remote ports of the process's established TCP connections."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and fields[9] in inodes:  # 01: ESTABLISHED
                ports.append(int(fields[2].rsplit(":", 1)[1], 16))
    return ports
