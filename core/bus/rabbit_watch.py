"""Watches on RabbitMQ: transient, at-most-once views of the exchange (``Bus.watch``).

Each watch has a channel of its own and a server-named (``amq.gen-…``), exclusive, auto-delete,
non-durable classic queue of at most ``MAX_LENGTH`` messages, the oldest dropped first (a stalled
watcher cannot grow the broker without bound), bound with each pattern and consumed without acks.

aio-pika's robust channel cannot restore such a queue: its ``RobustQueue`` never lets the server
name a queue (a missing name becomes ``amq_<uuid4>``, chosen by the client) and re-declares that
same name after a reconnect, which fails with RESOURCE_LOCKED while the broker has not yet noticed
that the old connection, the queue's exclusive owner, is dead; a real server name cannot be declared
again at all (``amq.`` is reserved). So the queue is declared through the underlying channel, bound
and consumed non-robust, and declared afresh, under a new server name, each time the robust channel
reopens after a reconnect. What was published in between is lost, as at-most-once allows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, cast

from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustQueue,
)

from core.bus.base import Handler
from core.bus.delivery import run_watcher

logger = logging.getLogger("core.bus.rabbit")

MAX_LENGTH = 10_000
QUEUE_ARGUMENTS: dict[str, Any] = {
    "x-queue-type": "classic",  # a vhost may default to quorum, which cannot be exclusive
    "x-max-length": MAX_LENGTH,
    "x-overflow": "drop-head",
}


async def open_watch(
    connection: AbstractRobustConnection, exchange: str, bindings: Sequence[str], handler: Handler
) -> Watch:
    """Declare, bind and consume a watch queue on a channel of its own."""
    watch = Watch(exchange, bindings, handler)
    await watch.open(connection)
    return watch


class Watch:
    """One ``watch``: its channel, its current queue and the handlers it is running."""

    def __init__(self, exchange: str, bindings: Sequence[str], handler: Handler) -> None:
        self.exchange, self.bindings, self.handler = exchange, tuple(bindings), handler
        self.queue_name = ""  # the server's name for the queue of the current connection
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractRobustQueue | None = None
        self._consumer_tag = ""
        self._inflight: set[asyncio.Task[Any]] = set()
        self._closing = False

    async def open(self, connection: AbstractRobustConnection) -> None:
        channel = await connection.channel(publisher_confirms=False)
        try:
            await self._declare(channel)
        except BaseException:
            await channel.close()
            raise
        self._channel = channel
        channel.reopen_callbacks.add(self._reopened)

    async def _declare(self, channel: AbstractRobustChannel) -> None:
        underlay = await channel.get_underlay_channel()
        declared = await underlay.queue_declare(
            "", durable=False, exclusive=True, auto_delete=True, arguments=QUEUE_ARGUMENTS
        )
        assert declared.queue is not None  # noqa: S101 - the broker names a nameless queue
        # A handle on the queue the server named, without declaring it (and, below, nothing
        # the robust channel would try to restore under this name).
        queue = cast(AbstractRobustQueue, await channel.get_queue(declared.queue, ensure=False))
        for pattern in self.bindings:
            await queue.bind(self.exchange, pattern, robust=False)
        self._consumer_tag = await queue.consume(self._on_message, no_ack=True, robust=False)
        self._queue, self.queue_name = queue, declared.queue

    async def _reopened(self, channel: AbstractRobustChannel | None) -> None:
        # aio-pika gathers reopen callbacks and drops their exceptions: log them here. A failure
        # from another connection loss is followed by another reopen, and another try.
        if self._closing or channel is None:  # None: the channel was garbage-collected
            return
        try:
            await self._declare(channel)
        except Exception:
            logger.exception("bus: could not declare the watch queue again after a reconnect")
        else:
            logger.info("bus: watch on %s declared again as %s", self.bindings, self.queue_name)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        assert task is not None  # noqa: S101 - aio-pika runs every delivery as a task
        if self._closing:
            return
        self._inflight.add(task)
        try:
            await run_watcher(self.handler, message.body, bindings=self.bindings)
        finally:
            self._inflight.discard(task)

    async def close(self) -> None:
        """Cancel the consumer and the handlers still running; the queue goes with its channel."""
        self._closing = True
        if self._queue is not None:
            await _quietly(self._queue.cancel(self._consumer_tag), "cancel the watch consumer")
        for task in self._inflight:
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        if self._channel is not None:
            await _quietly(self._channel.close(), "close the watch channel")


async def _quietly(action: Any, what: str) -> None:
    """Best effort on a channel that may already be gone (closing, reconnecting)."""
    try:
        await action
    except Exception as exc:
        logger.debug("bus: %s failed: %s", what, exc)
