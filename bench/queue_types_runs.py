"""One variant of ``bench.queue_types``: declare a queue, publish N chat messages one way,
consume them one way, delete the queue; the CPU of this process and of the broker per phase."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
    DeliveryMode,
    FieldValue,
)

from bench.pipeline_cpu import stat_cpu

PREFETCH = 100
WINDOW = 50  # publishes in flight before their confirms are awaited (variant b)
PER_BODY = 50  # messages per bus message (variant c)
ACK_EVERY = 50  # deliveries per multiple ack (variant d)
# What each queue type is declared with: quorum as core.bus declares it (less the dead-letter
# routing, which costs nothing until a message is dead-lettered).
QUEUE_ARGUMENTS: dict[str, dict[str, Any]] = {
    "classic": {},
    "quorum": {"x-queue-type": "quorum", "x-delivery-limit": 4},
    "stream": {"x-queue-type": "stream"},
}


class Broker:
    """The RabbitMQ node's CPU (``beam.smp``: all vhosts, so its idle rate is subtracted)."""

    def __init__(self) -> None:
        found = subprocess.run(
            ["/usr/bin/pgrep", "-f", "beam.smp"], capture_output=True, text=True, check=True
        )
        self.pid = int(found.stdout.split()[0])
        self.idle_per_s = 0.0

    def cpu(self) -> float:
        return stat_cpu(Path(f"/proc/{self.pid}/stat").read_text())

    async def measure_idle(self, seconds: float = 3.0) -> float:
        start, wall = self.cpu(), time.perf_counter()
        await asyncio.sleep(seconds)
        self.idle_per_s = (self.cpu() - start) / (time.perf_counter() - wall)
        return self.idle_per_s


@dataclass(frozen=True)
class Phase:
    seconds: float
    client_s: float  # this process's CPU
    broker_s: float  # beam.smp's, less its idle rate over the phase


async def measured(broker: Broker, work: Awaitable[None]) -> Phase:
    wall, client, node = time.perf_counter(), time.process_time(), broker.cpu()
    await work
    seconds = time.perf_counter() - wall
    used = broker.cpu() - node - broker.idle_per_s * seconds
    return Phase(seconds, time.process_time() - client, max(used, 0.0))


def chat_message(body: bytes) -> aio_pika.Message:
    # What core.bus.rabbit_publish.event_message sets on a message.incoming event.
    return aio_pika.Message(
        body,
        headers={"event-name": "message.incoming", "event-version": 1},
        content_type="application/json",
        delivery_mode=DeliveryMode.PERSISTENT,
        message_id=str(uuid.uuid4()),
    )


Publisher = Callable[[AbstractExchange, str, Sequence[bytes]], Awaitable[None]]


async def publish_each(exchange: AbstractExchange, key: str, bodies: Sequence[bytes]) -> None:
    """Today's bus call: one publish, its confirm awaited before the next."""
    for body in bodies:
        await exchange.publish(chat_message(body), key, mandatory=True)


async def publish_window(
    exchange: AbstractExchange, key: str, bodies: Sequence[bytes], window: int = WINDOW
) -> None:
    """Up to ``window`` publishes in flight, then their confirms."""
    for start in range(0, len(bodies), window):
        chunk = bodies[start : start + window]
        await asyncio.gather(
            *(exchange.publish(chat_message(b), key, mandatory=True) for b in chunk)
        )


async def publish_window_256(exchange: AbstractExchange, key: str, bodies: Sequence[bytes]) -> None:
    """The account worker's window (bots.incoming_publisher.PUBLISH_WINDOW)."""
    await publish_window(exchange, key, bodies, 256)


async def publish_batches(exchange: AbstractExchange, key: str, bodies: Sequence[bytes]) -> None:
    """PER_BODY messages as one JSON array body, one confirm each."""
    for start in range(0, len(bodies), PER_BODY):
        body = b"[" + b",".join(bodies[start : start + PER_BODY]) + b"]"
        await exchange.publish(chat_message(body), key, mandatory=True)


async def consume(
    channel: AbstractChannel, queue: str, deliveries: int, *, ack_every: int, stream: bool
) -> None:
    """Manual acks at prefetch PREFETCH until ``deliveries`` arrived: each one acked, or every
    ``ack_every``-th with ``multiple`` (and the last)."""
    amqp_queue = await channel.get_queue(queue, ensure=False)
    done, seen = asyncio.Event(), 0

    async def on_message(message: AbstractIncomingMessage) -> None:
        nonlocal seen
        seen += 1
        if ack_every == 1:
            await message.ack()
        elif seen % ack_every == 0 or seen == deliveries:
            await message.ack(multiple=True)
        if seen == deliveries:
            done.set()

    # A stream is read from an offset; its consumer must have a prefetch (set by the caller).
    arguments: dict[str, FieldValue] | None = {"x-stream-offset": "first"} if stream else None
    tag = await amqp_queue.consume(on_message, no_ack=False, arguments=arguments)
    await done.wait()
    await amqp_queue.cancel(tag)


@dataclass(frozen=True)
class Variant:
    queue_type: str
    publisher: Publisher
    ack_every: int = 1
    per_body: int = 1


@dataclass(frozen=True)
class Result:
    messages: int
    publish: Phase
    consume: Phase

    def summary(self) -> dict[str, float]:
        per_1000 = 1000 / self.messages
        client = (self.publish.client_s + self.consume.client_s) * per_1000
        broker = (self.publish.broker_s + self.consume.broker_s) * per_1000
        return {
            "publish_msg_s": round(self.messages / self.publish.seconds),
            "consume_msg_s": round(self.messages / self.consume.seconds),
            "msg_s": round(self.messages / (self.publish.seconds + self.consume.seconds)),
            "client_cpu_s_per_1000": round(client, 4),
            "broker_cpu_s_per_1000": round(broker, 4),
            "cpu_s_per_1000": round(client + broker, 4),
            "publish_cpu_s_per_1000": round(
                (self.publish.client_s + self.publish.broker_s) * per_1000, 4
            ),
            "consume_cpu_s_per_1000": round(
                (self.consume.client_s + self.consume.broker_s) * per_1000, 4
            ),
        }


async def run_variant(
    connection: AbstractRobustConnection,
    exchange_name: str,
    queue: str,
    variant: Variant,
    bodies: Sequence[bytes],
    broker: Broker,
) -> Result:
    """Publish ``bodies`` into a fresh queue of the variant's type, consume them all, delete it."""
    setup = await connection.channel()
    publishing = await connection.channel(publisher_confirms=True, on_return_raises=True)
    consuming = await connection.channel()
    try:
        await consuming.set_qos(prefetch_count=PREFETCH)
        arguments = QUEUE_ARGUMENTS[variant.queue_type]
        amqp_queue = await setup.declare_queue(queue, durable=True, arguments=arguments)
        await amqp_queue.bind(exchange_name, queue)
        exchange = await publishing.get_exchange(exchange_name, ensure=False)
        published = await measured(broker, variant.publisher(exchange, queue, bodies))
        deliveries = -(-len(bodies) // variant.per_body)
        stream = variant.queue_type == "stream"
        reading = consume(consuming, queue, deliveries, ack_every=variant.ack_every, stream=stream)
        consumed = await measured(broker, reading)
        return Result(len(bodies), published, consumed)
    finally:
        await setup.queue_delete(queue)
        for channel in (consuming, publishing, setup):
            await channel.close()
