"""Dead letters on RabbitMQ: the copy written to ``<queue>.dlq`` and reading it back.

The copy carries ``x-dead-reason``, ``x-deliveries``, ``x-original-routing-key`` and ``x-dead-at``;
a message the broker dead-lettered itself (``x-delivery-limit``) has only the broker's ``x-death``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, DeliveryMode
from aio_pika.exceptions import ChannelNotFoundEntity

from core.bus.base import DeadLetter
from core.bus.delivery import broker_reason
from core.events import utcnow


def dlq_name(queue: str) -> str:
    return f"{queue}.dlq"


def dead_letter_copy(
    message: AbstractIncomingMessage, reason: str, deliveries: int
) -> aio_pika.Message:
    """What goes to the dead-letter queue: the message as it came, with why and when it gave up."""
    headers = {k: v for k, v in message.headers.items() if k != "x-delivery-count"}
    headers["x-dead-reason"] = reason
    headers["x-deliveries"] = deliveries
    headers["x-original-routing-key"] = original_routing_key(message)
    headers["x-dead-at"] = utcnow().isoformat()
    return aio_pika.Message(
        message.body,
        headers=headers,
        content_type=message.content_type,
        delivery_mode=DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        timestamp=message.timestamp,
        type=message.type,
    )


def original_routing_key(message: AbstractIncomingMessage) -> str:
    """The topic key it was published with; a part of a split batch came through the default
    exchange (its routing key is the queue's name) and carries its batch's in a header."""
    kept = message.headers.get("x-original-routing-key")
    return _text(kept) if kept else message.routing_key or ""


async def peek(
    channel: AbstractRobustChannel, queue: str, limit: int
) -> list[AbstractIncomingMessage]:
    """Get up to ``limit`` messages unacked, then requeue them all (back in their places)."""
    try:
        amqp_queue = await channel.declare_queue(queue, passive=True, robust=False)
    except ChannelNotFoundEntity:
        return []
    messages: list[AbstractIncomingMessage] = []
    try:
        while len(messages) < limit:
            message = await amqp_queue.get(no_ack=False, fail=False)
            if message is None:
                break
            messages.append(message)
    finally:
        if messages:
            await messages[-1].nack(multiple=True, requeue=True)
    return messages


def as_dead_letter(queue: str, message: AbstractIncomingMessage, max_deliveries: int) -> DeadLetter:
    headers = message.headers
    deaths = headers.get("x-death")
    first = deaths[0] if isinstance(deaths, list) and deaths else None
    death: Mapping[str, Any] = first if isinstance(first, Mapping) else {}
    keys = death.get("routing-keys") or [""]
    dead_at = headers.get("x-dead-at")
    return DeadLetter(
        queue=queue,
        routing_key=_text(headers.get("x-original-routing-key", keys[0])),
        body=message.body.decode("utf-8", errors="replace"),
        # Without our reason the broker moved it: its consumer died on every delivery.
        reason=_text(headers.get("x-dead-reason", broker_reason(death.get("reason")))),
        deliveries=int_header(headers.get("x-deliveries"), max_deliveries),
        dead_at=(
            datetime.fromisoformat(_text(dead_at))
            if dead_at
            else _aware(death.get("time") or message.timestamp)
        ),
    )


def int_header(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _text(value: object) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _aware(value: object) -> datetime:
    if not isinstance(value, datetime):
        return utcnow()
    return value if value.tzinfo else value.replace(tzinfo=UTC)
