"""The outbox relay under failure (issue 9), on real databases and a real RabbitMQ.

A row the relay cannot publish is moved aside without holding back, or republishing, the rows
around it; a broker outage pauses the relay and it drains afterwards without a storm. Deliveries
are counted per event id at a consumer; waiting is polling with a deadline.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aio_pika
import httpx
import pytest
from sqlalchemy import func, insert, select, update

from core.access import Role
from core.bus import Bus
from core.bus.factory import make_bus
from core.bus.memory import InMemoryBus
from core.bus.rabbit import RabbitBus
from core.db import Database
from core.db.models import OutboxMessage
from core.events import Event
from core.outbox import OUTBOX, OutboxRelay, add_many_to_outbox
from core.outbox_failures import Backoff
from tests.conftest import add_people, admin_app, bearer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

ROUTE = "test.outbox"
SECRET = "Анна +7 900 123-45-67"  # personal data: in bodies, never in logs


@dataclass
class Consumer:
    """Records every delivery: the event's id and its number, in the order they came."""

    got: list[tuple[uuid.UUID, int]] = field(default_factory=list)

    async def __call__(self, event: Event) -> None:
        self.got.append((event.id, int(str(event.payload["n"]))))

    def ns(self) -> list[int]:
        return [n for _, n in self.got]

    def has(self, n: int) -> Callable[[], bool]:
        return lambda: n in self.ns()

    def per_event(self) -> Counter[uuid.UUID]:
        return Counter(event_id for event_id, _ in self.got)


@dataclass
class Broker:
    kind: str
    url: str
    exchange: str = field(default_factory=lambda: f"test-outbox-{uuid.uuid4().hex[:12]}")
    buses: list[Bus] = field(default_factory=list)

    @property
    def queue(self) -> str:
        return f"{self.exchange}.q"

    async def consumer(self, *, prefetch: int = 50) -> Consumer:
        bus = await self.bus()
        consumer = Consumer()
        await bus.subscribe(self.queue, [ROUTE, f"{ROUTE}.#"], consumer, prefetch=prefetch)
        return consumer

    async def bus(self, *, publish_timeout: float = 30.0) -> Bus:
        bus: Bus
        if self.kind == "rabbit":
            bus = CountingRabbitBus(
                self.url, exchange=self.exchange, publish_timeout=publish_timeout
            )
        else:
            bus = make_bus("memory://outbox-tests", exchange=self.exchange)
        await bus.start()
        self.buses.append(bus)
        return bus


class CountingRabbitBus(RabbitBus):
    """The real RabbitMQ bus, counting publish calls per event id (what the relay attempted)."""

    def __init__(self, url: str, *, exchange: str, publish_timeout: float) -> None:
        super().__init__(url, exchange=exchange, publish_timeout=publish_timeout)
        self.calls: Counter[uuid.UUID] = Counter()
        self.confirmed: Counter[uuid.UUID] = Counter()  # publish calls that returned
        self.failed = 0  # publish calls that raised (the broker was away)

    async def publish(self, event: Event, *, routing_key: str | None = None) -> None:
        self.calls[event.id] += 1
        try:
            await super().publish(event, routing_key=routing_key)
        except Exception:
            self.failed += 1
            raise
        self.confirmed[event.id] += 1


@pytest.fixture(params=["memory", "rabbit"])
async def broker(request: pytest.FixtureRequest, amqp_url: str) -> AsyncIterator[Broker]:
    kind: str = request.param
    b = Broker(kind, amqp_url if kind == "rabbit" else "memory://")
    try:
        yield b
    finally:
        for bus in b.buses:
            await bus.close()
        if kind == "rabbit":
            connection = await aio_pika.connect(amqp_url)
            async with connection:
                channel = await connection.channel()
                await channel.queue_delete(b.queue)
                await channel.queue_delete(f"{b.queue}.dlq")
                await channel.exchange_delete(b.exchange)


@pytest.fixture
async def running() -> AsyncIterator[Callable[[OutboxRelay], None]]:
    """Starts relays in the background and stops them after the test."""
    tasks: list[asyncio.Task[None]] = []

    def start(relay: OutboxRelay) -> None:
        tasks.append(asyncio.create_task(relay.run()))

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# ---- helpers -----------------------------------------------------------------------------------


def good(n: int) -> Event:
    return Event(name=ROUTE, payload={"n": n, "who": SECRET})


async def write(db: Database, events: list[Event]) -> None:
    async with db.transaction() as session:
        await add_many_to_outbox(session, [(e, None) for e in events])


async def write_raw(db: Database, body: str, routing_key: str = ROUTE) -> str:
    event_id = str(uuid.uuid4())
    async with db.transaction() as session:
        await session.execute(
            insert(OUTBOX), [{"event_id": event_id, "routing_key": routing_key, "body": body}]
        )
    return event_id


async def row(db: Database, event_id: str) -> OutboxMessage:
    async with db.session() as session:
        found = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.event_id == event_id)
        )
    assert found is not None
    return found


async def eventually(check: Callable[[], bool], what: str, within: float = 30.0) -> float:
    """Waits until ``check()``; returns how long that took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not check():
        if loop.time() - start > within:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.01)
    return loop.time() - start


async def dead_eventually(db: Database, event_id: str, within: float = 30.0) -> OutboxMessage:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (found := await row(db, event_id)).dead_at is None:
        if loop.time() > deadline:
            raise AssertionError(f"timed out: outbox row of {event_id} is not dead")
        await asyncio.sleep(0.05)
    return found


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


# ---- a broker outage ---------------------------------------------------------------------------


async def _rabbitmqctl(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl",
        "-q",
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, f"rabbitmqctl {' '.join(args)}: {err.decode()}"


@pytest.mark.slow
async def test_a_broker_restart_pauses_the_relay_and_it_drains_after_without_loss_or_storm(
    database: Database,
    broker: Broker,
    running: Callable[[OutboxRelay], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    if broker.kind != "rabbit":
        pytest.skip("a broker restart only exists for RabbitMQ")
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
        await _rabbitmqctl("stop_app")
        stopped = loop.time()
        await asyncio.sleep(6.0)  # three times the bus's publish timeout: the relay must pause
    finally:
        await _rabbitmqctl("start_app")
        await _rabbitmqctl("await_startup")
    started = loop.time()
    await asyncio.wait_for(writing, 60)
    expected = {uuid.UUID(r.event_id) for r in await _all_rows(database)}
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


async def _all_rows(db: Database) -> list[OutboxMessage]:
    async with db.session() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


# ---- retention ---------------------------------------------------------------------------------


async def test_published_rows_are_pruned_after_the_retention_but_pending_and_dead_ones_stay(
    database: Database,
) -> None:
    await write(database, [good(n) for n in range(4)])
    rows = await _all_rows(database)
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
    assert [r.id for r in await _all_rows(database)] == [r.id for r in rows[1:]]


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
