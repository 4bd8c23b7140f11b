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
- A consumer process that dies mid-handler gets the message redelivered to the next consumer.
- At most ``prefetch`` unacked messages per consumer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ValidationError

from core.events import Event, P

Handler = Callable[[Event], Awaitable[None]]


class UnroutableError(Exception):
    """``publish`` found no queue bound to the routing key (RabbitMQ's NO_ROUTE)."""


class PermanentError(Exception):
    """Raised by a handler for a message that can never succeed (unknown id, bad payload)."""


def decode_payload(event: Event, kind: type[P]) -> P:
    """The event's payload as ``kind``; a malformed one can never succeed, so it is refused for
    good (dead-lettered at once) with pydantic's reason."""
    try:
        return event.payload_as(kind)
    except ValidationError as exc:
        raise PermanentError(f"malformed {event.name}: {exc.errors()[0]['msg']}") from exc


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
    ) -> None:
        """Declare a durable queue bound to the routing patterns and consume it with ``handler``."""

    async def declare(self, queue: str, bindings: Sequence[str]) -> None:
        """Declare a durable queue and its bindings without consuming, so commands published
        before their consumer first starts wait in it instead of being unroutable."""

    async def dead_letters(self, queue: str, *, limit: int = 100) -> list[DeadLetter]:
        """Read (without removing) what the queue's dead-letter queue holds, oldest first."""
