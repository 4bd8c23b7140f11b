"""Publishing on RabbitMQ with confirms: what a message carries, returned (unroutable) messages,
and retries of publishes a lost connection interrupted."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aio_pika
from aio_pika.abc import AbstractExchange, DeliveryMode
from aio_pika.exceptions import ChannelInvalidStateError, PublishError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from core.bus.base import UnroutableError
from core.events import Event

logger = logging.getLogger("core.bus.rabbit")  # where these warnings logged before the split

# What a lost or not yet restored connection raises; anything else (unroutable, nack) is final.
CONNECTION_ERRORS = (ConnectionError, ChannelInvalidStateError)


def event_message(event: Event, *, persistent: bool = True) -> aio_pika.Message:
    # Only what a consumer may route or trace on without decoding the body: every property costs
    # encoding and decoding on each message.
    headers: dict[str, Any] = {"event-name": event.name, "event-version": event.version}
    if event.correlation_id is not None:
        headers["correlation-id"] = str(event.correlation_id)
    return aio_pika.Message(
        event.model_dump_json().encode(),
        headers=headers,
        content_type="application/json",
        delivery_mode=DeliveryMode.PERSISTENT if persistent else DeliveryMode.NOT_PERSISTENT,
        message_id=str(event.id),
    )


class Confirmer:
    """Publishes and waits for the broker's confirm, on a channel opened with confirms and
    ``on_return_raises``; connection errors are retried for up to ``timeout`` seconds."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._publishing: dict[str, asyncio.Event | None] = {}

    async def publish(
        self,
        exchange: AbstractExchange,
        routing_key: str,
        message: aio_pika.Message,
        *,
        mandatory: bool = True,
    ) -> None:
        """Publish and wait for the confirm; ``UnroutableError`` if mandatory and unroutable."""
        # aiormq pairs a returned (unroutable) message with its publish by message_id: two
        # publishes of one event in flight at once could swap outcomes, so they take turns.
        message_id = message.message_id
        if message_id is None:  # aiormq gives it a random one
            return await self._publish_once(exchange, routing_key, message, mandatory)
        while message_id in self._publishing:
            turn = self._publishing[message_id]
            if turn is None:  # made only when someone has to wait: the common case is free
                turn = self._publishing[message_id] = asyncio.Event()
            await turn.wait()
        self._publishing[message_id] = None
        try:
            await self._publish_once(exchange, routing_key, message, mandatory)
        finally:
            if (turn := self._publishing.pop(message_id)) is not None:
                turn.set()

    async def _publish_once(
        self,
        exchange: AbstractExchange,
        routing_key: str,
        message: aio_pika.Message,
        mandatory: bool,
    ) -> None:
        deadline = asyncio.get_running_loop().time() + self.timeout
        try:
            try:
                await _publish(exchange, routing_key, message, deadline, mandatory)
            except CONNECTION_ERRORS as exc:
                logger.warning("bus: publish to %s failed (%s), retrying", routing_key, exc)
                await _publish_retrying(exchange, routing_key, message, deadline, mandatory)
        except PublishError as exc:
            raise UnroutableError(
                f"no queue is bound to routing key {routing_key!r} "
                f"on exchange {exchange.name or '(default)'!r}"
            ) from exc


async def _publish(
    exchange: AbstractExchange,
    routing_key: str,
    message: aio_pika.Message,
    deadline: float,
    mandatory: bool,
) -> None:
    # Bounded: during an outage a robust exchange waits for the reconnection before publishing.
    async with asyncio.timeout_at(deadline):
        await exchange.publish(message, routing_key, mandatory=mandatory)


async def _publish_retrying(
    exchange: AbstractExchange,
    routing_key: str,
    message: aio_pika.Message,
    deadline: float,
    mandatory: bool,
) -> None:
    # The robust connection restores the channel in the background but never replays a publish;
    # we do, until the deadline. A lost confirm can duplicate a message: handlers are idempotent.
    remaining = max(deadline - asyncio.get_running_loop().time(), 0.0)
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(CONNECTION_ERRORS),
        stop=stop_after_delay(remaining),
        wait=wait_exponential(multiplier=0.1, max=2.0),
        reraise=True,
    ):
        with attempt:
            await _publish(exchange, routing_key, message, deadline, mandatory)
