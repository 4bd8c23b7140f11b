"""The watchdog's side of ``command.worker`` on the real PostgreSQL and RabbitMQ: Release clears
the quarantine and the crash history, so the reconciler starts the worker again; Restart stops a
live worker on purpose (not a crash) and the reconciler starts it again at once, with no backoff;
refusals change nothing; every change is audited under the person who asked."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aio_pika
import pytest

from core.access import Actor, Role
from core.bus import Bus
from core.bus.rabbit import RabbitBus
from core.db import Database
from core.db.models import Account
from core.db.watchdog_models import WorkerHeartbeat
from core.topology import WATCHDOG_COMMANDS
from core.worker_commands import WorkerCommand, WorkerResult, send_worker_command
from tests.conftest import empty_postgres
from tests.integration.worker_rows import (
    audit,
    put_state,
    quarantined,
    running,
    serve_watchdog_commands,
    state_of,
)
from watchdog.backoff import BackoffPolicy
from watchdog.reconciler import Reconciler, Timing
from watchdog.runtimes.local import LocalRuntime

ALINA = Actor(user_id=7, login="alina", role=Role.admin, channel="panel")
SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]  # a worker that just lives


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[Database]:
    database = Database(postgres_url)
    await empty_postgres(database)
    yield database
    await database.close()


@pytest.fixture
async def buses(amqp_url: str, db: Database) -> AsyncIterator[tuple[Bus, Bus]]:
    """The panel's bus and the watchdog's (serving commands), on a fresh exchange."""
    exchange = f"workers-{uuid.uuid4().hex[:8]}"
    panel, watchdog = RabbitBus(amqp_url, exchange=exchange), RabbitBus(amqp_url, exchange=exchange)
    await panel.start()
    await serve_watchdog_commands(watchdog, db)
    yield panel, watchdog
    await panel.close()
    await watchdog.close()
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in (WATCHDOG_COMMANDS, f"{WATCHDOG_COMMANDS}.dlq"):
            await channel.queue_delete(queue)
        await channel.exchange_delete(exchange)


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


async def beat(db: Database, account_id: int) -> str:
    """What the worker does: a heartbeat under the instance the watchdog gave it."""
    state = await state_of(db, account_id)
    assert state is not None and state.instance is not None
    now = datetime.now(UTC)
    async with db.transaction() as session:
        await session.merge(
            WorkerHeartbeat(
                account_id=account_id,
                instance=state.instance,
                host="here",
                pid=1,
                started_at=now,
                beat_at=now,
            )
        )
    return state.instance


async def test_release_over_the_bus_clears_the_quarantine_and_the_reconciler_starts_it(
    db: Database, buses: tuple[Bus, Bus]
) -> None:
    panel, _ = buses
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
    try:
        await watchdog.reconcile()
        assert list(await runtime.running()) == [account]
        started = await state_of(db, account)
        assert started is not None and started.state == "running"
    finally:
        await runtime.close()


async def test_restart_stops_a_live_worker_on_purpose_and_it_starts_again_at_once(
    db: Database, buses: tuple[Bus, Bus]
) -> None:
    panel, _ = buses
    (account,) = await accounts(db, "active")
    runtime = LocalRuntime(command=SLEEPER)
    watchdog = reconciler(db, runtime)
    try:
        await watchdog.reconcile()
        first = await beat(db, account)

        result = await send(panel, "restart", account)
        assert (result.outcome, result.state) == ("done", "restarting"), result
        await watchdog.reconcile()  # stops it
        await watchdog.reconcile()  # judges the stop, starts it again

        state = await state_of(db, account)
        assert state is not None
        assert state.state == "running" and state.instance not in (None, first)
        assert (state.quarantined, state.restarts, state.next_start_at) == (False, 0, None)
        assert state.last_reason == "stopped"  # asked for, not a crash
        assert list(await runtime.running()) == [account]
        assert [e.actor for e in await audit(db, "worker_restarted")] == ["alina"]
    finally:
        await runtime.close()


async def test_restart_of_a_worker_backing_off_starts_it_now(
    db: Database, buses: tuple[Bus, Bus]
) -> None:
    panel, _ = buses
    (account,) = await accounts(db, "active")
    later = datetime(2100, 1, 1, tzinfo=UTC)
    await put_state(
        db, account, state="backoff", restarts=3, next_start_at=later, last_reason="crash"
    )

    result = await send(panel, "restart", account)

    assert result.outcome == "done", result
    state = await state_of(db, account)
    assert state is not None and (state.next_start_at, state.restarts) == (None, 0)


async def test_refusals_change_nothing_and_say_why(db: Database, buses: tuple[Bus, Bus]) -> None:
    panel, _ = buses
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
