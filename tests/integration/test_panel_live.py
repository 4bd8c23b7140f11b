"""The panel's live feed over the real buses: what the services publish reaches every open page
of an admin process as one short word, a stalled page loses its oldest news instead of holding
the others back, and a closed page stops receiving."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from admin.pages.live import BACKLOG, LiveFeed
from core.bus import Bus
from core.bus.factory import make_bus
from core.events import Event


@pytest.fixture(params=["memory", "rabbit"])
async def bus(request: pytest.FixtureRequest, amqp_url: str) -> AsyncIterator[Bus]:
    url = "memory://" if request.param == "memory" else amqp_url
    made = make_bus(url, exchange=f"live-{uuid.uuid4().hex[:8]}")
    await made.start()
    yield made
    await made.close()


async def next_news(queue: asyncio.Queue[str]) -> str:
    return await asyncio.wait_for(queue.get(), timeout=10)


async def test_every_open_page_hears_what_the_services_publish(bus: Bus) -> None:
    feed = LiveFeed(bus)
    await bus.declare("live-test-sink", ["message.incoming"])  # chat traffic has its consumers
    async with feed.listen() as first, feed.listen() as second:
        await bus.publish(Event(name="draft.pending", payload={}))
        await bus.publish(Event(name="message.incoming", payload={}))  # not news for a page
        await bus.publish(Event(name="lead.found", payload={}))
        assert [await next_news(first), await next_news(first)] == ["draft", "lead"]
        assert [await next_news(second), await next_news(second)] == ["draft", "lead"]
    assert feed.listeners == 0


async def test_a_stalled_page_keeps_only_the_newest_news(bus: Bus) -> None:
    feed = LiveFeed(bus)
    async with feed.listen() as stalled, feed.listen() as lively:
        for _ in range(BACKLOG + 20):
            await bus.publish(Event(name="message.sent", payload={}))
        await bus.publish(Event(name="lead.found", payload={}))
        while await next_news(lively) != "lead":  # both pages get each event in one go
            pass
        kept = [stalled.get_nowait() for _ in range(stalled.qsize())]
    assert len(kept) == BACKLOG and kept[-1] == "lead"
