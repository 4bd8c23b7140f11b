"""How long a chat batch waits in each queue type: publish → delivery, at a steady rate.

A quorum queue hands a message to its consumer only once it is committed (written to its log),
a classic queue at once, a stream once written to its segment; CPU is what ``bench.queue_types``
measures, this is the latency a chat message pays for the type. Bodies are chat-batch sized
(20 chat messages), published one at a time with confirms pipelined, ``rate`` a second; the
consumer (prefetch 16, as the parser's) acks each. The publish time travels in a header.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection, DeliveryMode

from bench.queue_types_runs import QUEUE_ARGUMENTS

BATCH_BYTES = 20 * 600


async def publish_to_delivery_ms(
    connection: AbstractRobustConnection, queue: str, kind: str, *, count: int, rate: float
) -> dict[str, float]:
    """p50, p99 and max milliseconds from publish to delivery for ``count`` bodies."""
    publisher = await connection.channel(publisher_confirms=True)
    consumer = await connection.channel()
    await consumer.set_qos(prefetch_count=16)
    arguments = QUEUE_ARGUMENTS[kind]  # as bench.queue_types declares each type
    amqp_queue = await consumer.declare_queue(queue, durable=True, arguments=arguments)
    waits: list[float] = []
    done = asyncio.Event()

    async def on_message(message: AbstractIncomingMessage) -> None:
        sent = message.headers.get("sent")
        waits.append(time.perf_counter() - float(sent))  # type: ignore[arg-type]
        await message.ack()
        if len(waits) >= count:
            done.set()

    if kind == "stream":  # a stream is read from an offset: from now on
        tag = await amqp_queue.consume(on_message, arguments={"x-stream-offset": "next"})
    else:
        tag = await amqp_queue.consume(on_message)
    body = b"x" * BATCH_BYTES
    confirms: list[asyncio.Task[object]] = []
    for _ in range(count):
        message = aio_pika.Message(
            body, headers={"sent": time.perf_counter()}, delivery_mode=DeliveryMode.PERSISTENT
        )
        publish = publisher.default_exchange.publish(message, routing_key=queue)
        confirms.append(asyncio.ensure_future(publish))
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*confirms)
    await asyncio.wait_for(done.wait(), timeout=60)
    await amqp_queue.cancel(tag)
    await consumer.queue_delete(queue)
    await publisher.close()
    await consumer.close()
    return _quantiles(waits)


def _quantiles(waits: Sequence[float]) -> dict[str, float]:
    ms = sorted(wait * 1000 for wait in waits)
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49], 2), "p99_ms": round(cuts[98], 2), "max_ms": round(ms[-1], 2)}
