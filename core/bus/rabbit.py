"""The RabbitMQ bus (aio-pika): one durable topic exchange, quorum queues, confirms, dead letters.

Redelivery is counted by the broker: a failed message is nacked with ``requeue=True`` and the
quorum queue's ``x-delivery-count`` goes up, exactly as it does when a consumer dies mid-handler,
so one number covers both. ``x-delivery-limit = max_deliveries - 1`` makes the broker dead-letter a
message that kills its consumer every time; a handler that raises is dead-lettered by us on its
last delivery, with the reason, before the broker would.

Dead letters go to ``<queue>.dlq`` with headers ``x-dead-reason``, ``x-deliveries``,
``x-original-routing-key``, ``x-dead-at``: published with a confirm, and only then is the original
acked (a crash in between duplicates a dead letter, never loses one). The DLQ is a classic queue:
reading it (get, then requeue) raises a quorum queue's delivery count, and RabbitMQ 4's default
quorum delivery limit would drop dead letters after they were looked at twenty times.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
    DeliveryMode,
    ExchangeType,
)
from aio_pika.exceptions import (
    ChannelInvalidStateError,
    ChannelNotFoundEntity,
    ChannelPreconditionFailed,
    PublishError,
)
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from core.bus.base import DeadLetter, Handler, UnroutableError
from core.bus.delivery import (
    Verdict,
    broker_reason,
    check_limits,
    judge,
    retry_pause,
)
from core.events import Event, utcnow

logger = logging.getLogger(__name__)

# What a lost or not yet restored connection raises; anything else (unroutable, nack) is final.
CONNECTION_ERRORS = (ConnectionError, ChannelInvalidStateError)


@dataclass(frozen=True, slots=True)
class _Link:
    connection: AbstractRobustConnection
    channel: AbstractRobustChannel  # confirms on; every publish goes through it
    exchange: AbstractExchange


@dataclass(eq=False)
class _Subscription:
    queue: str
    handler: Handler
    amqp_queue: AbstractQueue
    consumer_tag: str = ""
    inflight: set[asyncio.Task[Any]] = field(default_factory=set)


class RabbitBus:
    """See ``core.bus.base`` for the contract and the module docstring for retries."""

    def __init__(
        self,
        url: str,
        *,
        exchange: str = "coolthing",
        max_deliveries: int = 5,
        prefetch: int = 200,
        retry_delay: float = 0.1,
        close_timeout: float = 30.0,
        publish_timeout: float = 30.0,
        reconnect_interval: float = 1.0,
    ) -> None:
        check_limits(max_deliveries, prefetch)
        self.url, self.exchange = url, exchange
        self.max_deliveries, self.prefetch = max_deliveries, prefetch
        self.retry_delay, self.close_timeout = retry_delay, close_timeout
        self.publish_timeout, self.reconnect_interval = publish_timeout, reconnect_interval
        self._link: _Link | None = None
        self._subscriptions: list[_Subscription] = []
        self._publishing: dict[str, asyncio.Event | None] = {}
        self._start_lock = asyncio.Lock()
        self._peek_lock = asyncio.Lock()
        self._closing = False

    # ---- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        async with self._start_lock:
            if self._closing:
                raise RuntimeError("the bus is closed")
            if self._link is None:
                self._link = await self._connect()

    async def _connect(self) -> _Link:
        connection = await aio_pika.connect_robust(
            self.url,
            reconnect_interval=self.reconnect_interval,
            client_properties={"connection_name": f"coolthing bus ({self.exchange})"},
        )
        try:
            # Confirms are pipelined on one channel: concurrent publishes do not wait in line.
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            exchange = await channel.declare_exchange(
                self.exchange, ExchangeType.TOPIC, durable=True
            )
        except BaseException:
            await connection.close()
            raise
        return _Link(connection, channel, exchange)

    async def _ready(self) -> _Link:
        """The connection, made on first use; refused once ``close()`` has begun."""
        if self._closing:
            raise RuntimeError("the bus is closed")
        if self._link is None:
            await self.start()
        assert self._link is not None  # noqa: S101 - start() set it or raised
        return self._link

    async def close(self) -> None:
        """Cancel consumers, let in-flight handlers finish (up to ``close_timeout``), disconnect."""
        async with self._start_lock:
            if self._closing:
                return
            self._closing = True
        if self._link is None:
            return
        for sub in self._subscriptions:
            await _quietly(sub.amqp_queue.cancel(sub.consumer_tag), "cancel consumer")
        await asyncio.sleep(0)  # deliveries already received start, see _closing and requeue
        inflight = {task for sub in self._subscriptions for task in sub.inflight}
        if inflight:
            _, late = await asyncio.wait(inflight, timeout=self.close_timeout)
            for task in late:
                task.cancel()  # nacked with requeue: the next consumer gets the message
            await asyncio.gather(*late, return_exceptions=True)
        await self._link.connection.close()

    # ---- publishing ----------------------------------------------------------------------------

    async def publish(self, event: Event, *, routing_key: str | None = None) -> None:
        link = await self._ready()
        await self._confirm(link.exchange, routing_key or event.name, _event_message(event))

    async def publish_raw(self, routing_key: str, body: bytes) -> None:
        """Publish bytes as they are (tests use it to send what no publisher should)."""
        link = await self._ready()
        message = aio_pika.Message(body, delivery_mode=DeliveryMode.PERSISTENT)
        await self._confirm(link.exchange, routing_key, message)

    async def _confirm(
        self, exchange: AbstractExchange, routing_key: str, message: aio_pika.Message
    ) -> None:
        """Publish, mandatory, and wait for the confirm; retry connection errors for a while."""
        # aiormq pairs a returned (unroutable) message with its publish by message_id: two
        # publishes of one event in flight at once could swap outcomes, so they take turns.
        message_id = message.message_id
        if message_id is None:  # aiormq gives it a random one
            return await self._confirm_once(exchange, routing_key, message)
        while message_id in self._publishing:
            turn = self._publishing[message_id]
            if turn is None:  # made only when someone has to wait: the common case is free
                turn = self._publishing[message_id] = asyncio.Event()
            await turn.wait()
        self._publishing[message_id] = None
        try:
            await self._confirm_once(exchange, routing_key, message)
        finally:
            if (turn := self._publishing.pop(message_id)) is not None:
                turn.set()

    async def _confirm_once(
        self, exchange: AbstractExchange, routing_key: str, message: aio_pika.Message
    ) -> None:
        deadline = asyncio.get_running_loop().time() + self.publish_timeout
        try:
            try:
                await _publish(exchange, routing_key, message, deadline)
            except CONNECTION_ERRORS as exc:
                logger.warning("bus: publish to %s failed (%s), retrying", routing_key, exc)
                await _publish_retrying(exchange, routing_key, message, deadline)
        except PublishError as exc:
            raise UnroutableError(
                f"no queue is bound to routing key {routing_key!r} "
                f"on exchange {exchange.name or '(default)'!r}"
            ) from exc

    # ---- consuming -----------------------------------------------------------------------------

    async def subscribe(
        self,
        queue: str,
        bindings: Sequence[str],
        handler: Handler,
        *,
        prefetch: int | None = None,
    ) -> None:
        prefetch = self.prefetch if prefetch is None else prefetch
        check_limits(self.max_deliveries, prefetch)
        link = await self._ready()
        # A channel per subscription makes the prefetch bound this consumer's own.
        channel = await link.connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=prefetch)
        amqp_queue = await self._declare(channel, queue)
        for pattern in bindings:
            await amqp_queue.bind(self.exchange, pattern)
        sub = _Subscription(queue, handler, amqp_queue)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await self._on_message(sub, message)

        sub.consumer_tag = await amqp_queue.consume(on_message, no_ack=False)
        self._subscriptions.append(sub)

    async def declare(self, queue: str, bindings: Sequence[str]) -> None:
        link = await self._ready()
        channel = await link.connection.channel(publisher_confirms=False)
        try:
            amqp_queue = await self._declare(channel, queue)
            for pattern in bindings:
                await amqp_queue.bind(self.exchange, pattern)
        finally:
            await channel.close()

    async def _declare(self, channel: AbstractRobustChannel, queue: str) -> AbstractQueue:
        await channel.declare_queue(dlq_name(queue), durable=True)
        arguments = {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.max_deliveries - 1,  # returns allowed: deliveries = max
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dlq_name(queue),
        }
        try:
            return await channel.declare_queue(queue, durable=True, arguments=arguments)
        except ChannelPreconditionFailed as exc:
            raise RuntimeError(
                f"queue {queue!r} exists with other arguments (not quorum, or another "
                f"max_deliveries than {self.max_deliveries}): delete it or keep the old setting"
            ) from exc

    async def _on_message(self, sub: _Subscription, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        assert task is not None  # noqa: S101 - aio-pika runs every delivery as a task
        sub.inflight.add(task)
        try:
            if self._closing:
                await _quietly(message.nack(requeue=True), "requeue on close")
                return
            await self._handle(sub, message)
        except asyncio.CancelledError:
            if not message.processed:
                await _quietly(message.nack(requeue=True), "requeue on close")
            raise
        except CONNECTION_ERRORS as exc:
            # The channel died under us; the broker has requeued the message already.
            logger.warning("bus: lost the channel while settling a %s message: %s", sub.queue, exc)
        except Exception:
            logger.exception("bus: could not settle a %s message, requeueing it", sub.queue)
            if not message.processed:
                await _quietly(message.nack(requeue=True), "requeue after a settle failure")
        finally:
            sub.inflight.discard(task)

    async def _handle(self, sub: _Subscription, message: AbstractIncomingMessage) -> None:
        deliveries = _int(message.headers.get("x-delivery-count"), 0) + 1
        verdict = await judge(
            sub.handler,
            message.body,
            queue=sub.queue,
            deliveries=deliveries,
            max_deliveries=self.max_deliveries,
        )
        if verdict.action == "ack":
            await message.ack()
        elif verdict.action == "retry":
            await asyncio.sleep(retry_pause(self.retry_delay, deliveries))
            await message.nack(requeue=True)
        else:
            await self._dead_letter(sub.queue, message, verdict, deliveries)
            await message.ack()

    async def _dead_letter(
        self, queue: str, message: AbstractIncomingMessage, verdict: Verdict, deliveries: int
    ) -> None:
        headers = {k: v for k, v in message.headers.items() if k != "x-delivery-count"}
        headers["x-dead-reason"] = verdict.reason
        headers["x-deliveries"] = deliveries
        headers["x-original-routing-key"] = message.routing_key or ""
        headers["x-dead-at"] = utcnow().isoformat()
        copy = aio_pika.Message(
            message.body,
            headers=headers,
            content_type=message.content_type,
            delivery_mode=DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            timestamp=message.timestamp,
            type=message.type,
        )
        # Not _ready(): handlers still draining during close() may dead-letter.
        assert self._link is not None  # noqa: S101 - consumers exist only once connected
        await self._confirm(self._link.channel.default_exchange, dlq_name(queue), copy)

    # ---- dead letters --------------------------------------------------------------------------

    async def dead_letters(self, queue: str, *, limit: int = 100) -> list[DeadLetter]:
        """Peek: get up to ``limit`` messages unacked, then requeue them all.

        A classic queue puts requeued messages back at their original positions, so the order
        holds. Peeks are serialised within this bus; two processes peeking one queue at the same
        moment would each see part of it.
        """
        link = await self._ready()
        async with self._peek_lock:
            channel = await link.connection.channel(publisher_confirms=False)
            try:
                messages = await _peek(channel, dlq_name(queue), limit)
            finally:
                await _quietly(channel.close(), "close the peek channel")
        return [_as_dead_letter(queue, m, self.max_deliveries) for m in messages]


# ---- helpers -----------------------------------------------------------------------------------


def dlq_name(queue: str) -> str:
    return f"{queue}.dlq"


def _event_message(event: Event) -> aio_pika.Message:
    # Only what a consumer may route or trace on without decoding the body: every property costs
    # encoding and decoding on each message.
    headers: dict[str, Any] = {"event-name": event.name, "event-version": event.version}
    if event.correlation_id is not None:
        headers["correlation-id"] = str(event.correlation_id)
    return aio_pika.Message(
        event.model_dump_json().encode(),
        headers=headers,
        content_type="application/json",
        delivery_mode=DeliveryMode.PERSISTENT,
        message_id=str(event.id),
    )


async def _publish(
    exchange: AbstractExchange, routing_key: str, message: aio_pika.Message, deadline: float
) -> None:
    # Bounded: during an outage a robust exchange waits for the reconnection before publishing.
    async with asyncio.timeout_at(deadline):
        await exchange.publish(message, routing_key, mandatory=True)


async def _publish_retrying(
    exchange: AbstractExchange, routing_key: str, message: aio_pika.Message, deadline: float
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
            await _publish(exchange, routing_key, message, deadline)


async def _peek(
    channel: AbstractRobustChannel, queue: str, limit: int
) -> list[AbstractIncomingMessage]:
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


def _as_dead_letter(
    queue: str, message: AbstractIncomingMessage, max_deliveries: int
) -> DeadLetter:
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
        deliveries=_int(headers.get("x-deliveries"), max_deliveries),
        dead_at=(
            datetime.fromisoformat(_text(dead_at))
            if dead_at
            else _aware(death.get("time") or message.timestamp)
        ),
    )


async def _quietly(action: Awaitable[object], what: str) -> None:
    """Best effort on a channel that may already be gone (closing, reconnecting)."""
    try:
        await action
    except Exception as exc:
        logger.debug("bus: %s failed: %s", what, exc)


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _text(value: object) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _aware(value: object) -> datetime:
    if not isinstance(value, datetime):
        return utcnow()
    return value if value.tzinfo else value.replace(tzinfo=UTC)
