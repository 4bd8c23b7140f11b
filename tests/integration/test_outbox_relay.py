"""The outbox relay under failure (issue 9), on real databases and a real RabbitMQ.

A row the relay cannot publish is moved aside without holding back, or republishing, the rows
around it (the broker outage is in test_outbox_outage.py); dead rows are listed with the bus's dead
letters; published rows are pruned. Deliveries are counted per event id at a consumer; waiting is
polling with a deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from core.access import Role
from core.bus.factory import make_bus
from core.bus.memory import InMemoryBus
from core.db import Database
from core.db.models import OutboxMessage
from core.events import Event
from core.outbox import OutboxRelay
from core.outbox_failures import Backoff
from tests.conftest import add_people, admin_app, bearer
from tests.integration.outbox_harness import (
    ROUTE,
    SECRET,
    Broker,
    Consumer,
    all_rows,
    dead_eventually,
    eventually,
    good,
    open_broker,
    relays,
    row,
    write,
    write_raw,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture(params=["memory", "rabbit"])
async def broker(request: pytest.FixtureRequest, amqp_url: str) -> AsyncIterator[Broker]:
    async with open_broker(request.param, amqp_url) as b:
        yield b


@pytest.fixture
async def running() -> AsyncIterator[Callable[[OutboxRelay], None]]:
    async with relays() as start:
        yield start


# ---- a poison row ------------------------------------------------------------------------------


async def test_a_poison_row_among_a_thousand_is_dead_and_the_rest_go_out_once_in_order(
    database: Database,
    broker: Broker,
    running: Callable[[OutboxRelay], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="core")
    consumer = await broker.consumer()
    await write(database, [good(n) for n in range(500)])
    not_json = await write_raw(database, f"not json: {SECRET}")
    await write(database, [good(n) for n in range(500, 750)])
    nameless = await write_raw(database, '{"payload": {"who": "' + SECRET + '"}}')
    await write(database, [good(n) for n in range(750, 1000)])

    running(OutboxRelay(database, await broker.bus(), poll=1.0))
    await eventually(lambda: len(consumer.got) >= 1000, "the thousand good rows")
    dead = [await dead_eventually(database, not_json), await dead_eventually(database, nameless)]

    # After the poison: a new row, written without a poke, goes out on the relay's next poll.
    await write(database, [good(1000)])
    after_poison = await eventually(lambda: len(consumer.got) >= 1001, "the row after the poison")
    await asyncio.sleep(1.5)  # more than one poll: nothing is published again
    print(
        f"[{broker.kind}/{database.engine.dialect.name}] row after the poison: {after_poison:.2f}s"
    )

    assert consumer.ns() == list(range(1001))  # each once, in order
    assert max(consumer.per_event().values()) == 1
    assert after_poison < 3.0
    assert [(d.attempts, d.published_at) for d in dead] == [(1, None), (1, None)]
    assert dead[0].last_error is not None and "Invalid JSON" in dead[0].last_error
    assert dead[1].last_error == "not a valid event: name: Field required"
    async with database.session() as session:
        unpublished = await session.scalar(
            select(func.count()).where(OutboxMessage.published_at.is_(None))
        )
    assert unpublished == 2
    logged = caplog.text
    assert not_json in logged and "dead after 1 tries" in logged
    assert SECRET not in logged and "not json" not in logged


async def test_a_row_whose_publish_keeps_failing_is_dead_after_its_tries_and_holds_back_nothing(
    database: Database, broker: Broker, running: Callable[[OutboxRelay], None]
) -> None:
    if broker.kind != "rabbit":
        pytest.skip("only RabbitMQ refuses a routing key longer than 255 bytes")
    consumer = await broker.consumer()
    await write(database, [good(n) for n in range(100)])
    # 200 Cyrillic letters: 200 characters fit the column, 400 bytes do not fit AMQP.
    too_long = await write_raw(database, good(-1).model_dump_json(), routing_key="я" * 200)
    await write(database, [good(n) for n in range(100, 200)])

    running(OutboxRelay(database, await broker.bus(), poll=0.2, max_attempts=3))
    await eventually(lambda: len(consumer.got) >= 200, "the rows around the failing one")
    dead = await dead_eventually(database, too_long)
    await write(database, [good(200)])
    await eventually(lambda: len(consumer.got) >= 201, "a row after the dead one")

    assert consumer.ns() == list(range(201))
    assert dead.attempts == 3
    assert dead.last_error == "TypeError: string exceeds maximum length of 255 bytes"


class RefusingBus(InMemoryBus):
    """The in-memory bus, whose publishes to one routing key fail the way a closed channel does."""

    refused = f"{ROUTE}.refused"

    async def publish(self, event: Event, *, routing_key: str | None = None) -> None:
        if routing_key == self.refused:
            raise RuntimeError("channel closed by the broker")
        await super().publish(event, routing_key=routing_key)


async def test_a_row_failing_like_an_outage_while_others_go_out_is_dead_and_stalls_nothing(
    database: Database, running: Callable[[OutboxRelay], None]
) -> None:
    consumer_bus = InMemoryBus("memory://outbox-refusing")
    consumer = Consumer()
    await consumer_bus.subscribe("refusing.q", [ROUTE, f"{ROUTE}.#"], consumer)
    relay_bus = RefusingBus("memory://outbox-refusing")
    # Alone, the row looks like an outage: the relay pauses on it ...
    refused = await write_raw(database, good(-1).model_dump_json(), RefusingBus.refused)
    relay = OutboxRelay(database, relay_bus, poll=0.2, max_attempts=3, backoff=Backoff(0.1, 0.5))
    running(relay)
    await asyncio.sleep(1.0)
    assert (await row(database, refused)).attempts == 0  # an outage counts no try
    # ... and the rows written behind it go out all the same; each time it fails beside rows that
    # went out counts a try, and after its tries it is dead.
    waves = [range(0, 100), range(100, 200), range(200, 201)]
    for wave in waves:
        await write(database, [good(n) for n in wave])
        relay.poke()
        await eventually(consumer.has(wave[-1]), f"rows {wave}", within=5)
    dead = await dead_eventually(database, refused)
    await write(database, [good(201)])
    relay.poke()
    await eventually(lambda: len(consumer.got) >= 202, "a row after the dead one", within=5)
    await consumer_bus.close()
    await relay_bus.close()

    assert consumer.ns() == list(range(202))
    assert dead.attempts == 3
    assert dead.last_error == "RuntimeError: channel closed by the broker"


# ---- retention ---------------------------------------------------------------------------------


async def test_published_rows_are_pruned_after_the_retention_but_pending_and_dead_ones_stay(
    database: Database,
) -> None:
    await write(database, [good(n) for n in range(4)])
    rows = await all_rows(database)
    long_ago = datetime.now(UTC) - timedelta(days=8)
    async with database.transaction() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == rows[0].id)
            .values(published_at=long_ago)
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == rows[1].id)
            .values(published_at=datetime.now(UTC))
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == rows[2].id)
            .values(dead_at=long_ago, last_error="not a valid event")
        )
    relay = OutboxRelay(database, make_bus("memory://prune"), retention=timedelta(days=7))

    assert await relay.prune() == 1
    assert [r.id for r in await all_rows(database)] == [r.id for r in rows[1:]]


# ---- the dead-letter view ----------------------------------------------------------------------


async def test_dead_outbox_rows_are_listed_beside_the_bus_dead_letters_with_their_reason(
    database: Database, running: Callable[[OutboxRelay], None]
) -> None:
    bus = InMemoryBus("memory://outbox-dead-letters")
    await bus.start()
    poison = await write_raw(database, "{not json")
    relay = OutboxRelay(database, bus)
    running(relay)
    await dead_eventually(database, poison)
    tokens = await add_people(database)
    app = admin_app(database, bus)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1", headers=bearer(tokens[Role.admin])
    ) as client:
        everything = (await client.get("/api/v1/dead-letters")).json()
        outbox = (await client.get("/api/v1/dead-letters", params={"queue": "outbox"})).json()
    await bus.close()

    assert everything == outbox
    [letter] = outbox
    assert letter["queue"] == "outbox"
    assert letter["routing_key"] == ROUTE
    assert letter["reason"].startswith("not a valid event: Invalid JSON")
    assert letter["deliveries"] == 1
    assert letter["body"] == "{not json"
