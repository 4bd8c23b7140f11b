"""The outbox relay through a RabbitMQ restart (issue 9): it pauses, then drains without loss and
without a republishing storm. Deliveries are counted per event id at a consumer, publish calls at
the bus. Restarts the shared broker the way tests/integration/test_bus_contract.py does."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from core.db import Database
from core.outbox import OutboxRelay
from core.outbox_failures import Backoff
from tests.conftest import rabbitmqctl
from tests.integration.outbox_harness import (
    Broker,
    Consumer,
    CountingRabbitBus,
    all_rows,
    eventually,
    good,
    open_broker,
    relays,
    write,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture
async def broker(amqp_url: str) -> AsyncIterator[Broker]:
    async with open_broker("rabbit", amqp_url) as b:
        yield b


@pytest.fixture
async def running() -> AsyncIterator[Callable[[OutboxRelay], None]]:
    async with relays() as start:
        yield start


@pytest.mark.broker_outage
@pytest.mark.slow
async def test_a_broker_restart_pauses_the_relay_and_it_drains_after_without_loss_or_storm(
    database: Database,
    broker: Broker,
    running: Callable[[OutboxRelay], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    if database.is_sqlite:
        pytest.skip("one restart of the shared broker is enough: the relay's logic is the same")
    total, batch = 3000, 100
    consumer = await broker.consumer(prefetch=10)
    bus = await broker.bus(publish_timeout=2.0)
    assert isinstance(bus, CountingRabbitBus)
    caplog.set_level(logging.DEBUG, logger="core.outbox")
    relay = OutboxRelay(database, bus, poll=0.5, batch=batch, backoff=Backoff(0.2, 2.0))
    running(relay)

    async def writer() -> None:  # services keep committing through the outage
        for start in range(0, total, 10):
            await write(database, [good(n) for n in range(start, start + 10)])
            relay.poke()
            await asyncio.sleep(0.01)

    writing = asyncio.create_task(writer())
    loop = asyncio.get_running_loop()
    await eventually(lambda: len(consumer.got) >= 300, "deliveries before the outage")
    try:
        await rabbitmqctl("stop_app")
        stopped = loop.time()
        await asyncio.sleep(6.0)  # three times the bus's publish timeout: the relay must pause
    finally:
        await rabbitmqctl("start_app")
        await rabbitmqctl("await_startup")
    started = loop.time()
    await asyncio.wait_for(writing, 60)
    expected = {uuid.UUID(r.event_id) for r in await all_rows(database)}
    await eventually(lambda: expected <= set(consumer.per_event()), "every event", within=60)
    await asyncio.sleep(1.5)  # more than one poll: nothing is published again

    deliveries = consumer.per_event()
    duplicates = sum(deliveries.values()) - len(deliveries)
    late = _out_of_order(consumer)
    print(
        f"outage {started - stopped:.1f}s: {len(deliveries)} events, {duplicates} duplicate"
        f" deliveries (most per event {max(deliveries.values())}), {sum(bus.calls.values())}"
        f" publish calls (most per event {max(bus.calls.values())}, confirmed at most"
        f" {max(bus.confirmed.values())}),"
        f" {bus.failed} of them failed; {late} first deliveries out of order"
    )
    assert len(expected) == total and set(deliveries) == expected  # nothing lost
    assert set(bus.confirmed.values()) == {1}  # no row the broker confirmed was published again
    assert sum(bus.calls.values()) <= total + 2 * batch
    # No storm: the passes in flight when the broker went away (the one that met it, and one more
    # when some of its rows had gone out), then two rows per try.
    assert bus.failed <= 2 * batch + 20
    assert max(deliveries.values()) <= 3
    assert late <= batch  # only rows in flight when the broker went away can come late
    assert duplicates <= 2 * batch


def _out_of_order(consumer: Consumer) -> int:
    """How many events were first delivered after an event written later than them."""
    seen: set[uuid.UUID] = set()
    highest, late = -1, 0
    for event_id, n in consumer.got:
        if event_id not in seen:
            seen.add(event_id)
            late += n < highest
            highest = max(highest, n)
    return late
