"""Chat messages travel to the parser in batches: ``message.incoming.batch``.

Nearly every chat message matches nothing, and one bus message per chat message spent most of the
pipeline's CPU on transport (a publish and its confirm, a delivery and its ack, a dozen event-loop
callbacks each). An account worker therefore gathers what it heard in the last few milliseconds
(``CHAT_BATCH_MAX`` at most) into one ``ChatMessages`` event; the parser matches them all and
records their hits in one transaction, then acks once.

A batch that fails is split in two, each half published back to the queue as its own batch with
its own delivery count (``split_chat_batch``, given to ``Bus.subscribe``); halving ends at a batch
of one, which is retried and dead-lettered like any single message, so one bad message never
takes the rest of its batch with it. DMs and what scripts accounts hear stay one event a message:
few, and each acted on alone.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import Field

from core.events import Event, MessageIncoming, Payload

CHAT_BATCH_MAX = 100  # messages in one batch: bounds a batch's transaction and its redelivery


class ChatMessages(Payload):
    """Chat messages one account heard, oldest first."""

    NAME: ClassVar[str] = "message.incoming.batch"

    messages: list[MessageIncoming] = Field(min_length=1, max_length=CHAT_BATCH_MAX)


def split_chat_batch(event: Event) -> list[Event]:
    """The two halves of a failed batch, or nothing for a batch of one (it is retried as it is).

    The halves are cut from the raw payload without validating it: a batch refused because one
    message is malformed must still be split down to that message."""
    messages = event.payload.get("messages")
    if event.name != ChatMessages.NAME or not isinstance(messages, list) or len(messages) < 2:
        return []
    middle = len(messages) // 2
    halves = (messages[:middle], messages[middle:])
    return [
        event.model_copy(update={"id": uuid.uuid4(), "payload": {**event.payload, "messages": h}})
        for h in halves
    ]
