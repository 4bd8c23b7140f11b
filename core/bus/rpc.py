"""Request/reply on top of the bus, shared by both implementations so they cannot drift apart:
stamping a request, waiting for its reply, and turning a responder into a ``subscribe`` handler.

A reply travels straight to the requester's reply address (on RabbitMQ its own queue, reached
through the default exchange), never through the topic exchange.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from pydantic import ValidationError

from core.bus.base import Handler, RequestTimeout, Responder
from core.events import Event, utcnow

logger = logging.getLogger("core.bus")

SendReply = Callable[[str, Event], Awaitable[None]]


def reply_address() -> str:
    """A fresh reply address: one per bus instance."""
    return f"reply.{uuid.uuid4().hex}"


def stamp(event: Event, *, reply_to: str, timeout: float) -> Event:
    """``event`` as a request: where to answer and until when an answer is worth anything."""
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    deadline = utcnow() + timedelta(seconds=timeout)
    return event.model_copy(update={"reply_to": reply_to, "deadline": deadline})


class PendingReplies:
    """The requests of one bus that still wait for their reply, by request id."""

    def __init__(self) -> None:
        self._waiting: dict[uuid.UUID, asyncio.Future[Event]] = {}

    async def wait(
        self, request: Event, send: Callable[[], Awaitable[None]], *, within: float
    ) -> Event:
        """Run ``send`` and wait for the reply to ``request``, all within ``within`` seconds."""
        if request.id in self._waiting:
            raise ValueError(f"request {request.id} is already waiting for its reply")
        reply: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._waiting[request.id] = reply
        try:
            async with asyncio.timeout(within) as limit:
                await send()
                return await reply
        except TimeoutError as exc:
            if not limit.expired():
                raise  # a timeout of the publish itself, not ours
            raise RequestTimeout(
                f"no reply to {request.name} {request.id} within {within:g}s"
            ) from exc
        finally:
            del self._waiting[request.id]

    def deliver(self, body: bytes) -> None:
        """Hand a reply to its waiting request; one nobody waits for (any more) is dropped."""
        try:
            reply = Event.model_validate_json(body)
        except ValidationError as exc:
            # Not str(exc): that quotes the body, which may be personal data.
            logger.warning(
                "bus: dropped a reply that is not an Event (%d errors)", exc.error_count()
            )
            return
        waiter = None if reply.correlation_id is None else self._waiting.get(reply.correlation_id)
        if waiter is None or waiter.done():
            logger.debug("bus: dropped a reply nobody waits for: %s %s", reply.name, reply.id)
            return
        waiter.set_result(reply)

    def close(self) -> None:
        """The bus is closing: no reply can reach it any more, so stop waiting now."""
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(RuntimeError("the bus closed while waiting for the reply"))


def answering(responder: Responder, *, queue: str, send_reply: SendReply) -> Handler:
    """A ``subscribe`` handler that answers requests: ``judge`` gives it subscribe's retries and
    dead letters, and the reply is sent before the handler returns, so before the ack."""

    async def handle(request: Event) -> None:
        if request.deadline is not None and request.deadline <= utcnow():
            logger.info(
                "bus: %s dropped %s %s: its deadline passed", queue, request.name, request.id
            )
            return
        reply = await responder(request)
        if request.reply_to is None:
            return  # nobody asked for the answer
        await send_reply(request.reply_to, reply.model_copy(update={"correlation_id": request.id}))

    return handle
