"""The watchdog's side of ``command.worker`` on the real PostgreSQL and RabbitMQ: Release clears
the quarantine and the crash history, so the reconciler starts the worker again; Restart stops a
live worker on purpose (not a crash) and the reconciler starts it again at once, with no backoff;
refusals change nothing; every change is audited under the person who asked."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest
from sqlalchemy import select

from core.access import Actor, Role
from core.bus import Bus
from core.bus.rabbit import RabbitBus
from core.db import Database
from core.db.models import Account, OutboxMessage
from core.db.watchdog_models import WorkerState
from core.settings import Settings
from core.topology import WATCHDOG_COMMANDS
from core.worker_commands import WorkerCommand, WorkerResult, send_worker_command
from tests.conftest import empty_postgres, eventually
from tests.integration.worker_rows import (
    audit,
    put_state,
    quarantined,
    running,
    serve_watchdog_commands,
    state_of,
)
from watchdog.backoff import BackoffPolicy
from watchdog.bootstrap import Watchdog, build_watchdog
from watchdog.commands import Hands, hands_of
from watchdog.reconciler import Reconciler, Timing
from watchdog.runtimes.local import LocalRuntime

ALINA = Actor(user_id=7, login="alina", role=Role.admin, channel="panel")
SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]  # a worker that just lives
FAST: dict[str, Any] = {
    "watchdog_reconcile_interval": 0.3,
    "watchdog_lease_ttl": 5.0,  # room for a loaded 2-core machine
    "watchdog_lease_renew": 0.5,
    "watchdog_heartbeat_timeout": 60.0,
    "watchdog_stop_grace": 2.0,
}


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[Database]:
    database = Database(postgres_url)
    await empty_postgres(database)
    yield database
    await database.close()


class Buses:
    """RabbitMQ buses on one fresh exchange: the panel's, and each watchdog's."""

    def __init__(self, amqp_url: str) -> None:
        self.url, self.exchange = amqp_url, f"workers-{uuid.uuid4().hex[:8]}"
        self.opened: list[RabbitBus] = []

    async def bus(self) -> RabbitBus:
        bus = RabbitBus(self.url, exchange=self.exchange)
        await bus.start()
        self.opened.append(bus)
        return bus

    async def watchdog(
        self, db: Database, hands: Hands | None = None, wake: Callable[[], None] = lambda: None
    ) -> None:
        await serve_watchdog_commands(await self.bus(), db, hands=hands, wake=wake)


@pytest.fixture
async def buses(amqp_url: str) -> AsyncIterator[Buses]:
    opened = Buses(amqp_url)
    yield opened
    for bus in opened.opened:
        await bus.close()
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in (WATCHDOG_COMMANDS, f"{WATCHDOG_COMMANDS}.dlq"):
            await channel.queue_delete(queue)
        await channel.exchange_delete(opened.exchange)


async def accounts(db: Database, *statuses: str) -> list[int]:
    ids = []
    async with db.transaction() as session:
        for n, status in enumerate(statuses, 1):
            account = Account(name=f"acc-{n}", role="parser", status=status, session_secret="x")
            session.add(account)
            await session.flush()
            ids.append(account.id)
    return ids


async def send(bus: Bus, action: str, account_id: int) -> WorkerResult:
    command = WorkerCommand.model_validate(
        {"action": action, "account_id": account_id, "actor": ALINA}
    )
    return await send_worker_command(bus, command)


def reconciler(db: Database, runtime: LocalRuntime) -> Reconciler:
    policy = BackoffPolicy(base=30, cap=60, reset_after=600, quarantine_crashes=3)
    return Reconciler(
        db=db, runtime=runtime, policy=policy, timing=Timing(heartbeat_timeout=60, stop_grace=2)
    )


async def test_release_over_the_bus_clears_the_quarantine_and_the_reconciler_starts_it(
    db: Database, buses: Buses
) -> None:
    panel = await buses.bus()
    await buses.watchdog(db)
    (account,) = await accounts(db, "active")
    await quarantined(db, account, exit_code=137)
    runtime = LocalRuntime(command=SLEEPER)
    watchdog = reconciler(db, runtime)
    await watchdog.reconcile()
    assert await runtime.running() == {}  # quarantined: not started

    result = await send(panel, "release", account)

    assert (result.outcome, result.state) == ("done", "stopped"), result
    state = await state_of(db, account)
    assert state is not None
    assert (state.quarantined, state.restarts, state.crash_times) == (False, 0, [])
    assert state.last_exit_code == 137  # what happened stays readable
    entries = await audit(db, "worker_released")
    assert [(e.actor, e.user_id, e.detail["account_id"]) for e in entries] == [
        ("alina", 7, account)
    ]
    async with db.session() as session:
        keys = list(await session.scalars(select(OutboxMessage.routing_key)))
    assert keys == ["worker.released"]  # the notifier marks the crash-loop alert handled
    try:
        await watchdog.reconcile()
        assert list(await runtime.running()) == [account]
        started = await state_of(db, account)
        assert started is not None and started.state == "running"
    finally:
        await runtime.close()


async def test_restart_stops_a_live_worker_on_purpose_and_it_starts_again_at_once(
    db: Database, buses: Buses
) -> None:
    (account,) = await accounts(db, "active")
    await put_state(db, account, state="stopped", restarts=2, last_reason="crash")
    holder = await watchdog(db, "a")
    first = (await until_running(db, account)).instance
    waiting = await watchdog(db, "b")  # a second watchdog, without the lease
    try:
        panel = await buses.bus()
        for each in (waiting, holder):
            await buses.watchdog(db, hands_of(each, stop_grace=2), wake=each.wake)

        result = await send(panel, "restart", account)  # lands on the holder, retried if not

        assert (result.outcome, result.state) == ("done", "restarting"), result
        state = await until_running(db, account, other_than=first)
        assert (state.quarantined, state.restarts, state.next_start_at) == (False, 0, None)
        assert state.last_reason == "stopped"  # asked for, not a crash
        assert list(await holder.runtime.running()) == [account]
        assert await waiting.runtime.running() == {}
        assert [e.actor for e in await audit(db, "worker_restarted")] == ["alina"]
    finally:
        await waiting.stop()
        await holder.stop()


async def watchdog(db: Database, name: str) -> Watchdog:
    """A real watchdog whose workers are processes that just live (they never beat: the
    heartbeat timeout is long)."""
    running = build_watchdog(Settings(**FAST), db, LocalRuntime(command=SLEEPER), holder=name)
    await running.start()
    return running


async def until_running(
    db: Database, account: int, *, other_than: str | None = None
) -> WorkerState:
    async def started() -> WorkerState | None:
        state = await state_of(db, account)
        if state is None or state.state != "running" or state.instance == other_than:
            return None
        return state

    return await eventually(started, seconds=30, what="the worker to run")


async def test_restart_of_a_worker_backing_off_starts_it_now(db: Database, buses: Buses) -> None:
    panel = await buses.bus()
    await buses.watchdog(db)
    (account,) = await accounts(db, "active")
    later = datetime(2100, 1, 1, tzinfo=UTC)
    await put_state(
        db, account, state="backoff", restarts=3, next_start_at=later, last_reason="crash"
    )

    result = await send(panel, "restart", account)

    assert result.outcome == "done", result
    state = await state_of(db, account)
    assert state is not None and (state.next_start_at, state.restarts) == (None, 0)


async def test_refusals_change_nothing_and_say_why(db: Database, buses: Buses) -> None:
    panel = await buses.bus()
    await buses.watchdog(db)
    live, paused, stuck = await accounts(db, "active", "paused", "active")
    await running(db, live)
    await quarantined(db, stuck)

    not_quarantined = await send(panel, "release", live)
    assert not_quarantined.outcome == "refused"
    assert "not quarantined (it is running)" in not_quarantined.detail
    never_started = await send(panel, "release", paused)
    assert never_started.outcome == "refused" and await state_of(db, paused) is None
    resume_first = await send(panel, "restart", paused)
    assert resume_first.outcome == "refused" and "paused: resume it first" in resume_first.detail
    release_instead = await send(panel, "restart", stuck)
    assert release_instead.outcome == "refused" and "release it instead" in release_instead.detail
    missing = await send(panel, "restart", 999)
    assert missing.outcome == "missing"

    state = await state_of(db, live)
    assert state is not None and state.state == "running" and not state.quarantined
    assert await audit(db, "worker_released") == [] and await audit(db, "worker_restarted") == []
