"""A service that starts while the broker is down (found by the chaos run, issue 14: the
manager, restarted into a RabbitMQ restart, exited with "Connect call failed" and came back only
because something restarted it) waits for the broker and then works. The broker is a private
RabbitMQ node, so stopping it disturbs no other test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bench.private_services import PrivateRabbit, open_private_rabbit
from core.bus.factory import make_bus
from core.events import Event

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.timeout(180)]


@pytest.fixture
async def rabbit() -> AsyncIterator[PrivateRabbit]:
    async with open_private_rabbit() as node:
        yield node


async def test_a_bus_started_while_the_broker_is_down_waits_for_it_and_then_delivers(
    rabbit: PrivateRabbit,
) -> None:
    await rabbit.stop()
    bus = make_bus(rabbit.url)
    starting = asyncio.create_task(bus.start())
    try:
        await asyncio.sleep(3.0)
        assert not starting.done(), "the bus gave up while the broker was down"
        await rabbit.start()
        await asyncio.wait_for(starting, 60)

        got: list[Event] = []
        arrived = asyncio.Event()

        async def record(event: Event) -> None:
            got.append(event)
            arrived.set()

        await bus.subscribe("start.test", ["start.test"], record)
        sent = Event(name="start.test", payload={"n": 1})
        await bus.publish(sent)
        await asyncio.wait_for(arrived.wait(), 10)
        assert [e.id for e in got] == [sent.id]
    finally:
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await bus.close()
