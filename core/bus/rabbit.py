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
quorum delivery limit would drop dead letters after they were looked at twenty times. Writing and
reading them lives in ``core.bus.rabbit_dead_letters``, publishing with confirms in
``core.bus.rabbit_publish``, the reply queue of ``request`` in ``core.bus.rabbit_rpc`` and the
transient queues of ``watch`` in ``core.bus.rabbit_watch``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
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
from aio_pika.connection import make_url
from aio_pika.exceptions import ChannelPreconditionFailed
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from core.bus.base import DeadLetter, Handler, Responder, Splitter
from core.bus.delivery import Verdict, check_limits, judge, retry_pause
from core.bus.rabbit_dead_letters import (
    as_dead_letter,
    dead_letter_copy,
    dlq_name,
    int_header,
    original_routing_key,
    peek,
)
from core.bus.rabbit_publish import CONNECTION_ERRORS, Confirmer, event_message
from core.bus.rabbit_rpc import ReplyQueue
from core.bus.rabbit_watch import Watch, open_watch
from core.bus.rpc import answering, stamp
from core.events import Event

logger = logging.getLogger(__name__)

FIRST_CONNECT_WAIT = 60.0  # seconds a starting service waits for the broker (a restart: ~10 s)


def _log_first_connect(state: RetryCallState) -> None:
    failure = state.outcome.exception() if state.outcome is not None else None
    logger.warning("bus: the broker is unreachable (%s); waiting for it", failure)


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
    split: Splitter | None = None
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
        self._watches: list[Watch] = []
        self._confirmer = Confirmer(publish_timeout)
        self._start_lock = asyncio.Lock()
        self._peek_lock = asyncio.Lock()
        self._replies = ReplyQueue()
        self._closing = False

    # ---- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        async with self._start_lock:
            if self._closing:
                raise RuntimeError("the bus is closed")
            if self._link is None:
                self._link = await self._connect()

    async def _connect(self) -> _Link:
        # connect_robust restores a connection it once had, never a first one: a service started
        # while the broker restarts waits for it here rather than exiting (the chaos run's
        # manager, restarted into a broker restart, exited with "Connect call failed").
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(ConnectionError),
            stop=stop_after_delay(FIRST_CONNECT_WAIT),
            wait=wait_exponential(multiplier=0.2, max=max(self.reconnect_interval, 0.2)),
            before_sleep=_log_first_connect,
            reraise=True,
        ):
            with attempt:
                connection = await self._connect_once()
        try:
            # Confirms are pipelined on one channel: concurrent publishes do not wait in line.
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            exchange = await channel.declare_exchange(
                self.exchange, ExchangeType.TOPIC, durable=True
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.shield(connection.close())
            raise
        return _Link(connection, channel, exchange)

    async def _connect_once(self) -> AbstractRobustConnection:
        """``connect_robust``, except that a connection that does not come up is closed: one
        left behind (cancelled mid-handshake: a service stopped while starting) reconnects on
        its own forever, and the process never ends."""
        connection = aio_pika.RobustConnection(
            make_url(self.url, reconnect_interval=self.reconnect_interval),
            client_properties={"connection_name": f"coolthing bus ({self.exchange})"},
        )
        try:
            await connection.connect()
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.shield(connection.close())
            raise
        return connection

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
        self._replies.close()
        if self._link is None:
            return
        for sub in self._subscriptions:
            await _quietly(sub.amqp_queue.cancel(sub.consumer_tag), "cancel consumer")
        for watch in self._watches:
            await watch.close()
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
        message = event_message(event)
        await self._confirmer.publish(link.exchange, routing_key or event.name, message)

    async def publish_raw(self, routing_key: str, body: bytes) -> None:
        """Publish bytes as they are (tests use it to send what no publisher should)."""
        link = await self._ready()
        message = aio_pika.Message(body, delivery_mode=DeliveryMode.PERSISTENT)
        await self._confirmer.publish(link.exchange, routing_key, message)

    # ---- request / reply -----------------------------------------------------------------------

    async def request(
        self,
        event: Event,
        *,
        routing_key: str | None = None,
        timeout: float,  # noqa: ASYNC109 - also the request's deadline, which travels with it
    ) -> Event:
        link = await self._ready()
        request = stamp(event, reply_to=self._replies.name, timeout=timeout)
        message = event_message(request)

        async def send() -> None:
            await self._replies.open(link.connection)  # before the request: no reply gets lost
            await self._confirmer.publish(link.exchange, routing_key or request.name, message)

        return await self._replies.pending.wait(request, send, within=timeout)

    async def serve(
        self,
        queue: str,
        bindings: Sequence[str],
        responder: Responder,
        *,
        prefetch: int | None = None,
    ) -> None:
        handler = answering(responder, queue=queue, send_reply=self._send_reply)
        await self.subscribe(queue, bindings, handler, prefetch=prefetch)

    async def _send_reply(self, reply_to: str, reply: Event) -> None:
        # Straight to the requester's queue, not mandatory: if it is gone, the broker drops it.
        assert self._link is not None  # noqa: S101 - consumers exist only once connected
        message = event_message(reply, persistent=False)  # its queue dies with its requester
        exchange = self._link.channel.default_exchange
        await self._confirmer.publish(exchange, reply_to, message, mandatory=False)

    # ---- consuming -----------------------------------------------------------------------------

    async def subscribe(
        self,
        queue: str,
        bindings: Sequence[str],
        handler: Handler,
        *,
        prefetch: int | None = None,
        split: Splitter | None = None,
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
        sub = _Subscription(queue, handler, amqp_queue, split)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await self._on_message(sub, message)

        sub.consumer_tag = await amqp_queue.consume(on_message, no_ack=False)
        self._subscriptions.append(sub)

    async def watch(self, bindings: Sequence[str], handler: Handler) -> None:
        link = await self._ready()
        self._watches.append(await open_watch(link.connection, self.exchange, bindings, handler))

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
        deliveries = int_header(message.headers.get("x-delivery-count"), 0) + 1
        verdict = await judge(
            sub.handler,
            message.body,
            queue=sub.queue,
            deliveries=deliveries,
            max_deliveries=self.max_deliveries,
            closing=lambda: self._closing,
            split=sub.split,
        )
        if verdict.action == "ack":
            await message.ack()
        elif verdict.action == "split":
            await self._requeue_parts(sub.queue, message, verdict)
            await message.ack()
        elif verdict.action == "retry":
            await asyncio.sleep(retry_pause(self.retry_delay, deliveries))
            await message.nack(requeue=True)
        else:
            await self._dead_letter(sub.queue, message, verdict, deliveries)
            await message.ack()

    async def _requeue_parts(
        self, queue: str, message: AbstractIncomingMessage, verdict: Verdict
    ) -> None:
        """The parts of a split event, straight to this queue (not through the exchange: the
        other queues bound to its routing key had the whole event), each keeping the routing key
        a dead letter is replayed to; confirmed before the ack, so a crash in between repeats
        parts, never loses one."""
        assert self._link is not None  # noqa: S101 - consumers exist only once connected
        exchange = self._link.channel.default_exchange
        routing_key = original_routing_key(message)
        parts = [event_message(part) for part in verdict.parts]
        for part in parts:
            part.headers["x-original-routing-key"] = routing_key
        await asyncio.gather(*(self._confirmer.publish(exchange, queue, p) for p in parts))

    async def _dead_letter(
        self, queue: str, message: AbstractIncomingMessage, verdict: Verdict, deliveries: int
    ) -> None:
        copy = dead_letter_copy(message, verdict.reason, deliveries)
        # Not _ready(): handlers still draining during close() may dead-letter.
        assert self._link is not None  # noqa: S101 - consumers exist only once connected
        await self._confirmer.publish(self._link.channel.default_exchange, dlq_name(queue), copy)

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
                messages = await peek(channel, dlq_name(queue), limit)
            finally:
                await _quietly(channel.close(), "close the peek channel")
        return [as_dead_letter(queue, m, self.max_deliveries) for m in messages]


# ---- helpers -----------------------------------------------------------------------------------


async def _quietly(action: Awaitable[object], what: str) -> None:
    """Best effort on a channel that may already be gone (closing, reconnecting)."""
    try:
        await action
    except Exception as exc:
        logger.debug("bus: %s failed: %s", what, exc)
