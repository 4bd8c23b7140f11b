"""The reply queue of one RabbitBus: where the replies to its requests arrive.

One queue per bus instance, ``reply.<uuid hex>``: exclusive, auto-delete, non-durable and
explicitly classic (a vhost may default to quorum, and quorum queues cannot be exclusive). It is
declared on the first ``request``, on a channel of its own, and consumed without acks. After a
reconnect aio-pika's RobustChannel declares it again under the same name and restores its consumer,
so the address that requests in flight carry stays valid; replies sent while the connection was
down are lost, and their requests time out.

Why not RabbitMQ's direct reply-to (``amq.rabbitmq.reply-to``): the broker fills in the address per
channel, so our envelope could not carry it in ``reply_to``, and the request would have to be
published on the consuming channel, while every publish here shares the one confirm channel.
aio-pika has no support of its own for it (its RPC pattern declares a queue too).
"""

from __future__ import annotations

import asyncio
import logging

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustConnection

from core.bus.rpc import PendingReplies, reply_address

logger = logging.getLogger(__name__)


class ReplyQueue:
    """The queue's name is fixed from the start: requests are stamped with it before it exists."""

    def __init__(self) -> None:
        self.name = reply_address()
        self.pending = PendingReplies()
        self._channel: AbstractRobustChannel | None = None
        self._lock = asyncio.Lock()

    async def open(self, connection: AbstractRobustConnection) -> None:
        """Declare and consume the queue, once. Idempotent."""
        if self._channel is not None:
            return
        async with self._lock:
            if self._channel is not None:
                return
            channel = await connection.channel(publisher_confirms=False)
            try:
                queue = await channel.declare_queue(
                    self.name,
                    durable=False,
                    exclusive=True,
                    auto_delete=True,
                    arguments={"x-queue-type": "classic"},
                )
                await queue.consume(self._on_reply, no_ack=True)
            except BaseException:
                await channel.close()
                raise
            self._channel = channel
            logger.debug("bus: reply queue %s declared", self.name)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        self.pending.deliver(message.body)

    def close(self) -> None:
        """Fail the requests still waiting; the queue goes with the connection."""
        self.pending.close()
