"""Events/s through RabbitBus against raw aio-pika doing the same work, in the same run.

Both sides publish N events with publisher confirms (``mandatory``, persistent), ``BATCH`` publishes
in flight at a time, into a durable quorum queue consumed with manual acks at the same prefetch,
and the clock runs from the first publish until the last message is acked. The bodies are the same
bytes; each side has its own exchange and queue. Ours adds what the bus is for: the Event envelope
(pydantic) both ways, headers, the delivery count and dead-letter logic. Rounds alternate and the
best of each side is kept, so a noisy neighbour hurts both alike.

Run: ``python -m bench.bus`` (RabbitMQ on COOLTHING_TEST_AMQP_URL or 127.0.0.1). The last line is
one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, DeliveryMode, ExchangeType

from core.bus.rabbit import RabbitBus
from core.events import Event, MessageIncoming, Profile

EVENTS = 5_000
BATCH = 200
PREFETCH = 200
ROUNDS = 5
KEY = MessageIncoming.NAME


def sample_events(n: int) -> list[Event]:
    sender = Profile(user_id=42, username="someone", first_name="Some", bio="likes bots")
    return [
        Event.of(
            MessageIncoming(
                account_id=1,
                chat_id=-100123,
                chat_ref="@some_chat",
                message_id=i,
                text="ищу подрядчика на разработку телеграм-бота, бюджет обсуждаем",
                date=datetime.now(UTC),
                sender=sender,
            )
        )
        for i in range(n)
    ]


async def publish_batched(publish: Callable[[int], Awaitable[object]], n: int) -> None:
    for start in range(0, n, BATCH):
        await asyncio.gather(*(publish(i) for i in range(start, min(start + BATCH, n))))


@dataclass(frozen=True)
class Run:
    rate: float  # events/s, wall clock
    cpu_us: float  # this process's CPU per event: steadier than the rate on a busy machine


async def measured(n: int, work: Awaitable[None]) -> Run:
    wall, cpu = time.perf_counter(), time.process_time()
    await work
    return Run(n / (time.perf_counter() - wall), (time.process_time() - cpu) * 1e6 / n)


async def run_ours(url: str, name: str, events: list[Event]) -> Run:
    bus = RabbitBus(url, exchange=f"{name}.ours", prefetch=PREFETCH)
    done, seen = asyncio.Event(), 0

    async def handler(event: Event) -> None:
        nonlocal seen
        seen += 1
        if seen == len(events):
            done.set()

    try:
        await bus.subscribe(f"{name}.ours", [KEY], handler)

        async def work() -> None:
            await publish_batched(lambda i: bus.publish(events[i]), len(events))
            await asyncio.wait_for(done.wait(), 120)

        return await measured(len(events), work())
    finally:
        await bus.close()


async def run_raw(url: str, name: str, bodies: list[bytes]) -> Run:
    connection = await aio_pika.connect_robust(url)
    done, seen = asyncio.Event(), 0

    async def on_message(message: AbstractIncomingMessage) -> None:
        nonlocal seen
        await message.ack()
        seen += 1
        if seen == len(bodies):
            done.set()

    async with connection:
        publisher = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await publisher.declare_exchange(f"{name}.raw", ExchangeType.TOPIC, durable=True)
        consumer = await connection.channel(publisher_confirms=False)
        await consumer.set_qos(prefetch_count=PREFETCH)
        queue = await consumer.declare_queue(
            f"{name}.raw", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, KEY)
        await queue.consume(on_message, no_ack=False)

        def publish(i: int) -> Awaitable[object]:
            message = aio_pika.Message(
                bodies[i], delivery_mode=DeliveryMode.PERSISTENT, message_id=uuid.uuid4().hex
            )
            return exchange.publish(message, KEY, mandatory=True)

        async def work() -> None:
            await publish_batched(publish, len(bodies))
            await asyncio.wait_for(done.wait(), 120)

        return await measured(len(bodies), work())


async def cleanup(url: str, name: str) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        for queue in (f"{name}.ours", f"{name}.ours.dlq", f"{name}.raw"):
            await channel.queue_delete(queue)
        for exchange in (f"{name}.ours", f"{name}.raw"):
            await channel.exchange_delete(exchange)


async def main() -> dict[str, object]:
    url = os.environ.get(
        "COOLTHING_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/coolthing_bench"
    )
    name = f"bench-bus-{uuid.uuid4().hex[:8]}"
    events = sample_events(EVENTS)
    bodies = [event.model_dump_json().encode() for event in events]
    ours: list[Run] = []
    raw: list[Run] = []
    try:
        await run_raw(url, name, bodies[:500])  # warm-up: declarations, first connections
        await run_ours(url, name, events[:500])
        for round_ in range(ROUNDS):
            raw.append(await run_raw(url, name, bodies))
            ours.append(await run_ours(url, name, events))
            print(
                f"round {round_ + 1}: raw aio-pika {raw[-1].rate:,.0f}/s "
                f"({raw[-1].cpu_us:.0f} us CPU/event), "
                f"RabbitBus {ours[-1].rate:,.0f}/s ({ours[-1].cpu_us:.0f} us CPU/event)"
            )
    finally:
        await cleanup(url, name)
    best_ours, best_raw = max(r.rate for r in ours), max(r.rate for r in raw)
    cpu_ours = statistics.median(r.cpu_us for r in ours)
    cpu_raw = statistics.median(r.cpu_us for r in raw)
    print(
        f"{EVENTS:,} events of {len(bodies[0])} bytes, {BATCH} publishes in flight, prefetch "
        f"{PREFETCH}, quorum queues: RabbitBus {best_ours:,.0f}/s vs raw {best_raw:,.0f}/s "
        f"(ratio {best_ours / best_raw:.2f}, goal >= 0.67); median CPU per event "
        f"{cpu_ours:.0f} us vs {cpu_raw:.0f} us"
    )
    return {
        "bench": "bus",
        "ours": round(best_ours, 1),
        "baseline": round(best_raw, 1),
        "ratio": round(best_ours / best_raw, 3),
        "unit": "events/s",
        "events": EVENTS,
        "batch": BATCH,
        "prefetch": PREFETCH,
        "body_bytes": len(bodies[0]),
        "rounds": ROUNDS,
        "queue_type": "quorum",
        "ours_cpu_us_per_event": round(cpu_ours, 1),
        "baseline_cpu_us_per_event": round(cpu_raw, 1),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
