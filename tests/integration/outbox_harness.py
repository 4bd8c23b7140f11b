"""What the outbox relay tests share: a consumer that counts deliveries per event id, buses on a
fresh exchange (RabbitMQ or in-memory), relays run in the background, and outbox rows written the
way services write them (or raw, the way nothing should)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aio_pika
from sqlalchemy import insert, select

from core.bus import Bus
from core.bus.factory import make_bus
from core.bus.rabbit import RabbitBus
from core.db import Database
from core.db.models import OutboxMessage
from core.events import Event
from core.outbox import OUTBOX, OutboxRelay, add_many_to_outbox

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


@asynccontextmanager
async def open_broker(kind: str, amqp_url: str) -> AsyncIterator[Broker]:
    """Buses of one fresh exchange; closed, and on RabbitMQ deleted, afterwards."""
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


@asynccontextmanager
async def relays() -> AsyncIterator[Callable[[OutboxRelay], None]]:
    """Starts relays in the background and stops them at the end."""
    tasks: list[asyncio.Task[None]] = []

    def start(relay: OutboxRelay) -> None:
        tasks.append(asyncio.create_task(relay.run()))

    try:
        yield start
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# ---- rows -----------------------------------------------------------------------------------


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


async def all_rows(db: Database) -> list[OutboxMessage]:
    async with db.session() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
