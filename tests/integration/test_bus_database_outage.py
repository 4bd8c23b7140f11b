"""A database restart under a busy consumer (found by the chaos run, issue 14): deliveries whose
handler cannot reach PostgreSQL are held and tried again until it is back, not retried five
times within a second and a half and dead-lettered — a lead's DM command lost that way was the
chaos test's one lost lead. The database is a private PostgreSQL cluster (restarting the shared
one would disturb every other test); the broker is the test one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
from sqlalchemy import text

from bench.private_services import PrivatePostgres, open_private_postgres
from core.bus.factory import make_bus
from core.db import Database
from core.events import Event

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.timeout(180)]

ROUTE = "outage.test"


@pytest.fixture
async def postgres() -> AsyncIterator[PrivatePostgres]:
    async with open_private_postgres() as server:
        yield server


async def waiting(amqp_url: str, queue: str) -> int:
    """Messages ready in ``queue``."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)


async def dead_letters(amqp_url: str, queue: str) -> int:
    return await waiting(amqp_url, f"{queue}.dlq")


async def test_a_database_restart_holds_deliveries_until_it_is_back_instead_of_dead_lettering(
    postgres: PrivatePostgres, amqp_url: str
) -> None:
    db = Database(postgres.url)
    async with db.transaction() as session:
        await session.execute(text("create table handled (event_id text primary key)"))
    tag = uuid.uuid4().hex[:8]
    queue, exchange = f"outage.{tag}", f"outage-{tag}"
    bus = make_bus(amqp_url, exchange=exchange)  # the services' defaults: 5 deliveries, 0.1 s

    async def record(event: Event) -> None:
        async with db.transaction() as session:
            await session.execute(
                text("insert into handled values (:id) on conflict do nothing"),
                {"id": str(event.id)},
            )

    try:
        await bus.subscribe(queue, [ROUTE], record)
        await postgres.stop("immediate")
        events = [Event(name=ROUTE, payload={"n": n}) for n in range(20)]
        for event in events:
            await bus.publish(event)
        await asyncio.sleep(4.0)  # every delivery fails meanwhile: the server is down
        await postgres.start()

        async def handled() -> int:
            async with db.session() as session:
                return int(await session.scalar(text("select count(*) from handled")) or 0)

        for _ in range(300):  # 60 s
            if await handled() == len(events):
                break
            await asyncio.sleep(0.2)
        assert await handled() == len(events)
        assert await dead_letters(amqp_url, queue) == 0
    finally:
        await bus.close()
        await db.close()
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(queue)
            await channel.queue_delete(f"{queue}.dlq")
            await channel.exchange_delete(exchange)


async def test_a_bus_that_stops_during_an_outage_gives_the_delivery_back_at_once(
    amqp_url: str,
) -> None:
    """A service asked to stop (SIGTERM) while its handlers wait out an outage stops in
    seconds; the message goes back to the queue, not to the dead letters."""
    tag = uuid.uuid4().hex[:8]
    queue, exchange = f"outage.{tag}", f"outage-{tag}"
    bus = make_bus(amqp_url, exchange=exchange)
    tries = asyncio.Event()

    async def unreachable(event: Event) -> None:
        tries.set()
        raise ConnectionRefusedError("the database is down")

    try:
        await bus.subscribe(queue, [ROUTE], unreachable)
        await bus.publish(Event(name=ROUTE, payload={"n": 1}))
        await asyncio.wait_for(tries.wait(), 10)
        loop = asyncio.get_running_loop()
        began = loop.time()
        await bus.close()
        assert loop.time() - began < 5.0
        assert await dead_letters(amqp_url, queue) == 0
        assert await waiting(amqp_url, queue) == 1, "back in the queue"
    finally:
        await bus.close()
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(queue)
            await channel.queue_delete(f"{queue}.dlq")
            await channel.exchange_delete(exchange)
