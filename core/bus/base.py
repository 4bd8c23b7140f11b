"""The bus port shared by the RabbitMQ and the in-memory implementations.

Semantics both must honour (the contract suite in tests/integration/test_bus_contract.py proves it):
- ``publish`` returns only once the broker has the message (publisher confirms); an event with no
  bound queue is an error, not a silent drop.
- A handler runs with the decoded ``Event``; the message is acked only after it returns, so a
  handler that commits its transaction before returning gets at-least-once delivery, acked after
  the commit.
- A handler that raises is retried; after ``max_deliveries`` deliveries the message moves to the
  queue's dead-letter queue with the reason. ``PermanentError`` and a body that is not a valid
  ``Event`` are dead-lettered at once: retrying cannot fix them.
- A subscription with ``split`` does not retry a failed event that ``split`` cuts into parts: the
  parts are published to that queue alone (confirmed), each with its own delivery count, and only
  then is the original acked. A batch is halved down to the one message that fails.
- A consumer process that dies mid-handler gets the message redelivered to the next consumer.
- At most ``prefetch`` unacked messages per consumer.
- ``request`` publishes like ``publish`` and waits for the one reply whose ``correlation_id`` is the
  request's id; ``serve`` consumes like ``subscribe`` and sends the responder's answer to the
  request's ``reply_to`` before the ack. A request past its ``deadline`` is acked unanswered.
- ``watch`` is the exception to all of the above: transient and at most once, for live views.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ValidationError

from core.events import Event, P

Handler = Callable[[Event], Awaitable[None]]
Responder = Callable[[Event], Awaitable[Event]]
# Cuts a failed event into parts that go back to its queue one by one (halves of a batch); an
# empty list means it cannot be split, and it is retried and dead-lettered as it is.
Splitter = Callable[[Event], Sequence[Event]]


class UnroutableError(Exception):
    """``publish`` found no queue bound to the routing key (RabbitMQ's NO_ROUTE)."""


class RequestTimeout(Exception):
    """``request`` got no reply within its timeout (nobody served it, or not in time)."""


class PermanentError(Exception):
    """Raised by a handler for a message that can never succeed (unknown id, bad payload)."""


def decode_payload(event: Event, kind: type[P]) -> P:
    """The event's payload as ``kind``; a malformed one can never succeed, so it is refused for
    good (dead-lettered at once) with pydantic's reason."""
    try:
        return event.payload_as(kind)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise PermanentError(f"malformed {event.name}: {where}: {first['msg']}") from exc


class DeadLetter(BaseModel):
    """A message that gave up: what it was, where, why and after how many deliveries."""

    queue: str
    routing_key: str
    body: str
    reason: str
    deliveries: int
    dead_at: datetime


class Bus(Protocol):
    async def start(self) -> None:
        """Connect and declare the exchange. Idempotent."""

    async def close(self) -> None:
        """Stop consumers (letting in-flight handlers finish) and disconnect."""

    async def publish(self, event: Event, *, routing_key: str | None = None) -> None:
        """Publish with confirms; routing key defaults to the event's name."""

    async def publish_raw(self, routing_key: str, body: bytes) -> None:
        """Publish bytes as they are (replaying a dead letter; tests of malformed input)."""

    async def subscribe(
        self,
        queue: str,
        bindings: Sequence[str],
        handler: Handler,
        *,
        prefetch: int | None = None,
        split: Splitter | None = None,
    ) -> None:
        """Declare a durable queue bound to the routing patterns and consume it with ``handler``;
        a failed event that ``split`` cuts into parts goes back to the queue as those parts."""

    async def request(
        self,
        event: Event,
        *,
        routing_key: str | None = None,
        timeout: float,  # noqa: ASYNC109 - also the request's deadline, which travels with it
    ) -> Event:
        """Send ``event`` as a request and return its reply.

        The event goes out with this bus's reply address in ``reply_to`` and ``deadline = now +
        timeout``, with confirms like ``publish`` (``UnroutableError`` when no queue is bound).
        The reply is the event whose ``correlation_id`` is the request's ``id``; none within
        ``timeout`` seconds raises ``RequestTimeout``, and a reply that comes later is dropped.
        Concurrent requests each get their own reply; requesting an event whose id is still
        waiting for its reply raises ``ValueError``; ``close()`` ends a wait with ``RuntimeError``.
        """

    async def serve(
        self,
        queue: str,
        bindings: Sequence[str],
        responder: Responder,
        *,
        prefetch: int | None = None,
    ) -> None:
        """Consume a durable queue like ``subscribe``, answering each request with ``responder``.

        The responder's event goes to the request's ``reply_to`` with ``correlation_id`` set to
        the request's id, and only then is the request acked; a responder that raises is retried
        and dead-lettered like a handler. A request whose ``deadline`` has passed is acked without
        calling the responder; one without ``reply_to`` is answered into the void. A reply whose
        requester is gone is dropped.
        """

    async def watch(self, bindings: Sequence[str], handler: Handler) -> None:
        """Hand ``handler`` the events whose routing key matches a pattern, while this bus runs.

        For live views (one per process, say): nothing is kept while nobody watches, so events
        published before the watch started, or while the connection was down, never arrive. At
        most once: nothing is retried or dead-lettered; a handler that raises, or a body that is
        not an ``Event``, is logged and the event dropped. Handlers may run concurrently. The
        watch's queue disappears with the connection (``close()`` ends the watch) and holds at
        most 10,000 events, dropping the oldest, when its handler falls behind. Like a queue, a
        watch makes its routing keys routable for ``publish``. Several watches per bus are
        allowed, each getting its own copy.
        """

    async def declare(self, queue: str, bindings: Sequence[str]) -> None:
        """Declare a durable queue and its bindings without consuming, so commands published
        before their consumer first starts wait in it instead of being unroutable."""

    async def dead_letters(self, queue: str, *, limit: int = 100) -> list[DeadLetter]:
        """Read (without removing) what the queue's dead-letter queue holds, oldest first."""
