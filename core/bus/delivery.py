"""What both bus implementations share, so they cannot drift apart on what a failure means:
the verdict on a finished delivery, dead-letter reasons, retry pauses, AMQP topic matching and
running a watcher."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from pydantic import ValidationError

from core.bus.base import Handler, PermanentError, Splitter
from core.bus.outages import is_outage
from core.events import Event
from core.logging import event_log_context

# judge() logs for both implementations, so under the package's name rather than a module's.
logger = logging.getLogger("core.bus")

REASON_LIMIT = 500
MAX_RETRY_PAUSE = 5.0
# A delivery whose handler cannot reach a server it needs is held (unacked, so the broker counts
# no delivery) and run again, waiting OUTAGE_PAUSE doubling up to MAX_RETRY_PAUSE, for at most
# OUTAGE_HOLD seconds; only then does it count as a failed delivery.
OUTAGE_HOLD = 120.0
OUTAGE_PAUSE = 0.5


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a delivery once its handler has run."""

    action: Literal["ack", "retry", "dead", "split"]
    reason: str = ""
    parts: Sequence[Event] = ()  # "split": publish these to the queue, then ack the original


ACK = Verdict("ack")


def _trim(text: str) -> str:
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


def describe(exc: BaseException) -> str:
    """``Type: message``, trimmed: what a dead letter says about why it gave up."""
    return _trim(f"{type(exc).__name__}: {exc}")


def _malformed(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return _trim(
        f"MalformedMessage: not a valid Event ({exc.error_count()} errors): {where}: {first['msg']}"
    )


async def judge(
    handler: Handler,
    body: bytes,
    *,
    queue: str,
    deliveries: int,
    max_deliveries: int,
    closing: Callable[[], bool] = lambda: False,
    split: Splitter | None = None,
) -> Verdict:
    """Decode ``body``, run ``handler`` and say whether to ack, retry, dead-letter or split it.
    ``closing`` tells whether the bus is stopping: a delivery is not held through an outage
    then (it goes back to the queue at once, for the next consumer). A failed event that
    ``split`` cuts into parts (a batch) is not retried whole: its parts go back to the queue."""
    try:
        event = Event.model_validate_json(body)
    except ValidationError as exc:
        reason = _malformed(exc)  # not str(exc): that quotes the body, which may be personal data
        logger.error("bus: dead-lettered a message on %s: %s", queue, reason)
        return Verdict("dead", reason)
    try:
        with event_log_context(event):  # the handler's lines name the event's ids
            await _through_outages(handler, event, queue=queue, closing=closing)
    except Exception as exc:
        # An unreachable server is nobody's fault in the batch: it goes back whole, as any event.
        parts = split(event) if split is not None and not is_outage(exc) else []
        if not parts:
            return _failed(exc, event, queue=queue, deliveries=deliveries, limit=max_deliveries)
        reason = describe(exc)
        logger.warning(
            "bus: %s failed %s %s, split in %d: %s", queue, event.name, event.id, len(parts), reason
        )
        return Verdict("split", reason, tuple(parts))
    return ACK


def _failed(exc: Exception, event: Event, *, queue: str, deliveries: int, limit: int) -> Verdict:
    """Dead-letter a permanent failure at once, another on its last delivery; else retry."""
    if isinstance(exc, PermanentError):
        # No traceback: its cause (a pydantic error) would quote the payload, personal data.
        reason = describe(exc)
        logger.error("bus: %s gave up on %s %s: %s", queue, event.name, event.id, reason)
        return Verdict("dead", reason)
    if deliveries >= limit:
        logger.error(
            "bus: %s failed %s %s %d times, dead-lettered",
            queue,
            event.name,
            event.id,
            deliveries,
            exc_info=exc,
        )
        return Verdict("dead", describe(exc))
    logger.warning(
        "bus: %s failed %s %s (delivery %d/%d), will retry",
        queue,
        event.name,
        event.id,
        deliveries,
        limit,
        exc_info=exc,
    )
    return Verdict("retry", describe(exc))


async def _through_outages(
    handler: Handler, event: Event, *, queue: str, closing: Callable[[], bool]
) -> None:
    """Run ``handler``; while it fails because a server is unreachable (a database restart),
    hold the delivery and run it again, rather than spend the message's deliveries on the outage
    and dead-letter healthy work. Handlers are idempotent: a run again is a redelivery."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + OUTAGE_HOLD
    pause = OUTAGE_PAUSE
    while True:
        try:
            await handler(event)
            return
        except Exception as exc:
            if not is_outage(exc) or closing() or loop.time() + pause > deadline:
                raise
            # The type only: a driver's message is about the server, but keep logs free of text.
            logger.warning(
                "bus: %s holds %s %s, a server is unreachable (%s); again in %.1f s",
                queue,
                event.name,
                event.id,
                type(exc).__name__,
                pause,
            )
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_RETRY_PAUSE)


async def run_watcher(handler: Handler, body: bytes, *, bindings: tuple[str, ...]) -> None:
    """Decode ``body`` and run a watch's ``handler``: at most once, so whatever fails is logged
    and the event dropped."""
    try:
        event = Event.model_validate_json(body)
    except ValidationError as exc:
        # Not the body nor str(exc), which quotes it: it may be personal data.
        logger.warning(
            "bus: watch on %s dropped a message that is not an Event: %s", bindings, _malformed(exc)
        )
        return
    try:
        await handler(event)
    except Exception:
        logger.warning(
            "bus: watch on %s failed %s %s, dropped", bindings, event.name, event.id, exc_info=True
        )


def broker_reason(cause: object) -> str:
    """The reason of a message the broker dead-lettered itself (``x-death``'s reason)."""
    return f"broker dead-lettered it ({cause})"


def retry_pause(base: float, deliveries: int) -> float:
    """Exponential pause before a failed delivery goes back to the queue."""
    return min(base * 2.0 ** (deliveries - 1), MAX_RETRY_PAUSE)


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: ``*`` is exactly one word, ``#`` zero or more."""
    return _words_match(tuple(pattern.split(".")), tuple(routing_key.split(".")))


@lru_cache(maxsize=4096)
def _words_match(pattern: tuple[str, ...], key: tuple[str, ...]) -> bool:
    if not pattern:
        return not key
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_words_match(rest, key[i:]) for i in range(len(key) + 1))
    if not key:
        return False
    return head in ("*", key[0]) and _words_match(rest, key[1:])


def check_limits(max_deliveries: int, prefetch: int) -> None:
    if max_deliveries < 1:
        raise ValueError(f"max_deliveries must be at least 1, got {max_deliveries}")
    if prefetch < 1:
        raise ValueError(f"prefetch must be at least 1, got {prefetch}")
