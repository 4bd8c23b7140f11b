"""Which RabbitMQ queue type and publish/ack pattern for the chat stream: CPU per message.

For each queue type (classic durable, quorum as core.bus declares it, stream read with
basic.consume from offset ``first``) N chat-message-sized bodies (a ``message.incoming`` event,
~600 bytes, persistent, mandatory, the bus's headers) are published into a fresh queue and then
consumed with manual acks at prefetch 100, in four variants:

- ``a``: one publish, its confirm awaited before the next (``RabbitBus.publish`` alone); one ack
  per delivery;
- ``b``: up to 50 publishes in flight before their confirms are awaited; one ack per delivery;
- ``c``: 50 messages as one JSON array body, one confirm each; one ack per delivery (of 50);
- ``d``: as ``b``, acking every 50th delivery with ``multiple``;

and, for quorum only, ``w256``: 256 publishes in flight (the account worker's ``PUBLISH_WINDOW``,
what bench.pipeline's before-numbers ran), one ack per delivery. Publishing and consuming are
timed apart; CPU is this process's (``time.process_time``) and the broker's (``beam.smp``:
``utime + stime`` from ``/proc``, less its idle rate measured over 3 s before: the node is shared
with other vhosts). Bodies are serialised once beforehand and not decoded by the consumer: this
measures transport only.

Then, per type, the latency a chat batch pays in the queue (``bench.queue_types_latency``):
1,000 batch-sized bodies at 100 a second, publish → delivery p50/p99/max (``latency``).

Run: ``python -m bench.queue_types [N]`` (RabbitMQ on COOLTHING_BENCH_AMQP_URL, else vhost
coolthing_bench on 127.0.0.1). Queues are named ``bench.qt.*`` and deleted at the end. The last
line is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid

import aio_pika
from aio_pika.abc import ExchangeType

from bench.bus import sample_events
from bench.queue_types_latency import publish_to_delivery_ms
from bench.queue_types_runs import (
    Broker,
    Result,
    Variant,
    publish_batches,
    publish_each,
    publish_window,
    publish_window_256,
    run_variant,
)

MESSAGES = 20_000
LATENCY_BODIES = 1_000
BASELINE = "quorum.a"  # core.bus today: a quorum queue, one confirm and one ack per message
WORKER_TODAY = "quorum.w256"  # the same with the account worker's window of publishes

VARIANTS: dict[str, Variant] = {}
for kind in ("classic", "quorum", "stream"):
    VARIANTS[f"{kind}.a"] = Variant(kind, publish_each)
    VARIANTS[f"{kind}.b"] = Variant(kind, publish_window)
    VARIANTS[f"{kind}.c"] = Variant(kind, publish_batches, per_body=50)
    VARIANTS[f"{kind}.d"] = Variant(kind, publish_window, ack_every=50)
VARIANTS[WORKER_TODAY] = Variant("quorum", publish_window_256)


async def main(messages: int) -> dict[str, object]:
    url = os.environ.get(
        "COOLTHING_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/coolthing_bench"
    )
    run = uuid.uuid4().hex[:8]
    exchange_name = f"bench.qt.{run}"
    bodies = [event.model_dump_json().encode() for event in sample_events(messages)]
    broker = Broker()
    connection = await aio_pika.connect_robust(url)
    results: dict[str, Result] = {}
    try:
        setup = await connection.channel()
        await setup.declare_exchange(exchange_name, ExchangeType.TOPIC, durable=True)
        # Warm-up: first declarations of each type, first publishes (not reported).
        for kind in ("classic", "quorum", "stream"):
            warm = Variant(kind, publish_window)
            await run_variant(
                connection, exchange_name, f"{exchange_name}.warm", warm, bodies[:500], broker
            )
        idle = await broker.measure_idle(3.0)
        print(f"rabbitmq idle: {idle:.4f} CPU s/s (subtracted)", flush=True)
        for name, variant in VARIANTS.items():
            queue = f"{exchange_name}.{name}"
            results[name] = await run_variant(
                connection, exchange_name, queue, variant, bodies, broker
            )
            print(f"{name}: {json.dumps(results[name].summary())}", flush=True)
        idle_after = await broker.measure_idle(3.0)
        await setup.exchange_delete(exchange_name)
        latency = {
            kind: await publish_to_delivery_ms(
                connection, f"{exchange_name}.latency.{kind}", kind, count=LATENCY_BODIES, rate=100
            )
            for kind in ("classic", "quorum", "stream")
        }
        print(f"publish → delivery of chat-batch bodies at 100/s: {json.dumps(latency)}")
    finally:
        await connection.close()
    variants = {name: result.summary() for name, result in results.items()}
    best = min(variants, key=lambda name: variants[name]["cpu_s_per_1000"])
    ours = variants[best]["cpu_s_per_1000"]
    baseline = variants[BASELINE]["cpu_s_per_1000"]
    worker = variants[WORKER_TODAY]["cpu_s_per_1000"]
    return {
        "bench": "queue_types",
        "ours": ours,
        "baseline": baseline,
        "ratio": round(ours / baseline, 3),
        "unit": "CPU s per 1000 messages",
        "best": best,
        "baseline_variant": BASELINE,
        "worker_today": worker,
        "ratio_to_worker_today": round(ours / worker, 3),
        "messages": messages,
        "rabbitmq_idle_cpu_s_per_s": {"before": round(idle, 4), "after": round(idle_after, 4)},
        "variants": variants,
        "latency": latency,
    }


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else MESSAGES
    print(json.dumps(asyncio.run(main(count))))
