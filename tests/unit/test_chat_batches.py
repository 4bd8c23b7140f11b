"""Chat messages in batches: how a worker's stream becomes bus messages (order, batches, the
resume cursor) and how a failed batch is cut in halves."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from bots.incoming_publisher import IncomingPublisher
from core.bus import UnroutableError
from core.bus.memory import InMemoryBus
from core.chat_batch import ChatMessages, split_chat_batch
from core.db import Database
from core.events import Event, MessageIncoming, Profile
from core.our_accounts import OurAccounts
from core.telegram import IncomingMessage
from core.topology import DM_ROUTING_KEY


def heard(n: int, *, dm: bool = False) -> IncomingMessage:
    return IncomingMessage(
        chat_id=7 if dm else -100500,
        chat_ref=None if dm else "@jobs_chat",
        is_private=dm,
        message_id=n,
        text=f"message {n}",
        date_ts=1_700_000_000.0 + n,
        sender=Profile(user_id=7),
        cursor=str(n),
    )


async def stream(
    *messages: IncomingMessage, later: IncomingMessage | None = None
) -> AsyncIterator[IncomingMessage]:
    """The messages at once, then (a moment later, as a live chat goes on) ``later``."""
    for message in messages:
        yield message
    if later is not None:
        await asyncio.sleep(0.05)
        yield later


def publisher(bus: InMemoryBus) -> IncomingPublisher:
    return IncomingPublisher(
        account_id=1,
        bus=bus,
        ours=OurAccounts(Database("sqlite+aiosqlite://")),  # asked only about scene chatter
        chat_ref_of=lambda message: message.chat_ref,
        scene_account=False,
        batch_delay=0.0,
    )


async def test_chat_messages_go_as_batches_and_a_dm_alone_in_the_order_heard() -> None:
    bus = InMemoryBus(f"memory://batches-{uuid.uuid4().hex}")
    got: list[object] = []

    async def collect(event: Event) -> None:
        if event.name == ChatMessages.NAME:
            got.append([m.message_id for m in event.payload_as(ChatMessages).messages])
        else:
            got.append(("dm", event.payload_as(MessageIncoming).message_id))

    await bus.subscribe("test.parser", [ChatMessages.NAME], collect, prefetch=1)
    await bus.subscribe("test.manager", [DM_ROUTING_KEY], collect, prefetch=1)
    sender = publisher(bus)

    await sender.run(stream(heard(1), heard(2), heard(3, dm=True), heard(4)))
    await bus.close()  # lets the handlers finish

    assert sorted(got, key=str) == sorted([[1, 2], ("dm", 3), [4]], key=str)
    assert sender.cursor == "4", "the cursor moves past everything confirmed"


async def test_a_failed_publish_stops_the_stream_with_the_cursor_before_it() -> None:
    bus = InMemoryBus(f"memory://batches-{uuid.uuid4().hex}")
    await bus.declare("test.manager", [DM_ROUTING_KEY])  # nobody takes chat batches
    sender = publisher(bus)

    with pytest.raises(UnroutableError):
        await sender.run(stream(heard(1, dm=True), heard(2), heard(3), later=heard(4)))
    await bus.close()

    assert sender.cursor == "1", "the batch of 2 and 3 is read again after a restart"


async def test_a_parser_that_takes_no_batches_gets_every_chat_message_singly_in_order() -> None:
    bus = InMemoryBus(f"memory://batches-{uuid.uuid4().hex}")
    got: list[int] = []

    async def older_parser(event: Event) -> None:  # bound to single messages only
        got.append(event.payload_as(MessageIncoming).message_id)

    await bus.subscribe("test.parser", [MessageIncoming.NAME], older_parser, prefetch=1)
    sender = publisher(bus)

    await sender.run(stream(heard(1), heard(2), heard(3), later=heard(4)))
    await bus.close()

    assert got == [1, 2, 3, 4]
    assert sender.cursor == "4", "nothing is read again: every message reached the parser"


def batch_of(count: int) -> Event:
    messages = [
        MessageIncoming(
            account_id=1,
            chat_id=-100500,
            message_id=n,
            text=f"message {n}",
            date=heard(n).as_event(account_id=1, chat_ref=None).date,
            sender=Profile(user_id=n),
        )
        for n in range(count)
    ]
    return Event.of(ChatMessages(messages=messages))


def test_a_failed_batch_is_cut_in_two_halves_in_order_and_a_batch_of_one_not_at_all() -> None:
    batch = batch_of(5)
    halves = split_chat_batch(batch)

    ids = [[m.message_id for m in h.payload_as(ChatMessages).messages] for h in halves]
    assert ids == [[0, 1], [2, 3, 4]]
    assert len({batch.id, *(h.id for h in halves)}) == 3, "each half is a new event"
    assert split_chat_batch(halves[0]) != [] and split_chat_batch(batch_of(1)) == []


def test_a_batch_refused_for_one_malformed_message_still_splits_down_to_it() -> None:
    batch = batch_of(4)
    messages = list(batch.payload["messages"])  # type: ignore[call-overload]
    messages[3] = {"text": "no ids, no sender"}
    forged = batch.model_copy(update={"payload": {"messages": messages}})

    halves = split_chat_batch(forged)
    assert [len(h.payload["messages"]) for h in halves] == [2, 2]  # type: ignore[arg-type]
    [good, bad] = split_chat_batch(halves[1])
    assert bad.payload["messages"] == [{"text": "no ids, no sender"}]
    assert good.payload_as(ChatMessages).messages[0].message_id == 2
