"""The bus contract (core/bus/base.py), proved on both implementations: in-memory and RabbitMQ.

Every test gets its own exchange and queue names, and the RabbitMQ ones are deleted afterwards.
Waiting is polling with a deadline; the one fixed pause is in the prefetch test, which has to show
that something does *not* happen.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aio_pika
import aiosqlite
import pytest
from pydantic_core import PydanticSerializationError

from core.bus import RequestTimeout, UnroutableError
from core.bus.base import Bus, DeadLetter, PermanentError
from core.bus.factory import make_bus
from core.events import Event, utcnow
from tests.conftest import rabbitmqctl

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

PING = "test.ping"
PONG = "test.pong"
MAX_DELIVERIES = 3


@dataclass
class Harness:
    """Builds buses on one fresh exchange and names queues so they can be cleaned up."""

    kind: str
    url: str
    exchange: str
    queues: list[str] = field(default_factory=list)
    buses: list[Bus] = field(default_factory=list)

    def queue(self, name: str) -> str:
        full = f"{self.exchange}.{name}"
        self.queues.append(full)
        return full

    async def bus(self, *, close_timeout: float = 5.0) -> Bus:
        bus = make_bus(
            self.url,
            exchange=self.exchange,
            max_deliveries=MAX_DELIVERIES,
            retry_delay=0.01,
            close_timeout=close_timeout,
        )
        await bus.start()
        self.buses.append(bus)
        return bus


@pytest.fixture(params=["memory", "rabbit"])
async def harness(request: pytest.FixtureRequest, amqp_url: str) -> AsyncIterator[Harness]:
    kind: str = request.param
    url = "memory://" if kind == "memory" else amqp_url
    h = Harness(kind, url, exchange=f"test-bus-{uuid.uuid4().hex[:12]}")
    try:
        yield h
    finally:
        for bus in h.buses:
            await bus.close()
        if kind == "rabbit":
            await _delete_rabbit_objects(amqp_url, h)


async def _delete_rabbit_objects(amqp_url: str, h: Harness) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in h.queues:
            await channel.queue_delete(queue)
            await channel.queue_delete(f"{queue}.dlq")
        await channel.exchange_delete(h.exchange)


@pytest.fixture
async def bus(harness: Harness) -> Bus:
    return await harness.bus()


# ---- helpers -----------------------------------------------------------------------------------


def ping(n: int = 0, **payload: object) -> Event:
    return Event(name=PING, payload={"n": n, **payload})


async def eventually(check: Callable[[], bool], what: str, within: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.01)


async def dead_letters_eventually(
    bus: Bus, queue: str, count: int, within: float = 15.0
) -> list[DeadLetter]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while len(letters := await bus.dead_letters(queue)) < count:
        if loop.time() > deadline:
            raise AssertionError(f"timed out: {len(letters)}/{count} dead letters on {queue}")
        await asyncio.sleep(0.05)
    return letters


class Recorder:
    """A handler that records what it got and can be told how to behave per delivery."""

    def __init__(self, behave: Callable[[Event, int], Awaitable[None]] | None = None) -> None:
        self.events: list[Event] = []
        self._behave = behave

    async def __call__(self, event: Event) -> None:
        self.events.append(event)
        if self._behave is not None:
            await self._behave(event, len(self.events))

    def ns(self) -> list[object]:
        return [event.payload["n"] for event in self.events]


async def publish_and_await_marker(bus: Bus, recorders: list[Recorder]) -> None:
    """Publish a marker and wait until every recorder got it: whatever came before has settled
    (the queues run with prefetch 1, and RabbitMQ keeps one publisher's order per queue)."""
    await bus.publish(ping(-1), routing_key="marker")
    await eventually(lambda: all(-1 in r.ns() for r in recorders), "the marker")


# ---- routing -----------------------------------------------------------------------------------


async def test_published_event_reaches_every_bound_queue_exactly_once(
    harness: Harness, bus: Bus
) -> None:
    a, b, other = Recorder(), Recorder(), Recorder()
    await bus.subscribe(harness.queue("a"), [PING, "marker"], a, prefetch=1)
    await bus.subscribe(harness.queue("b"), [PING, "marker"], b, prefetch=1)
    await bus.subscribe(harness.queue("other"), ["other.#", "marker"], other, prefetch=1)

    sent = ping(1, text="привет")
    await bus.publish(sent)
    await publish_and_await_marker(bus, [a, b, other])

    assert a.ns() == [1, -1]
    assert b.ns() == [1, -1]
    assert other.ns() == [-1]
    assert a.events[0] == sent and b.events[0] == sent
    assert a.events[0] is not sent and a.events[0] is not b.events[0]


async def test_topic_wildcards_match_like_amqp(harness: Harness, bus: Bus) -> None:
    patterns = {
        "star": "lead.*",
        "hash": "account.#",
        "suffix": "#.banned",
        "middle": "account.*.command.#",
        "all": "#",
    }
    recorders = {name: Recorder() for name in patterns}
    for name, pattern in patterns.items():
        await bus.subscribe(harness.queue(name), [pattern, "marker"], recorders[name], prefetch=1)

    keys = ["lead.found", "lead.found.again", "lead", "account", "account.7.command.join_chats"]
    keys += ["account.banned", "x.y.banned", "banned"]
    for n, key in enumerate(keys):
        await bus.publish(ping(n, key=key), routing_key=key)
    await publish_and_await_marker(bus, list(recorders.values()))

    got = {name: [e.payload["key"] for e in r.events[:-1]] for name, r in recorders.items()}
    assert got == {
        "star": ["lead.found"],
        "hash": ["account", "account.7.command.join_chats", "account.banned"],
        "suffix": ["account.banned", "x.y.banned", "banned"],
        "middle": ["account.7.command.join_chats"],
        "all": keys,
    }


async def test_publish_with_no_bound_queue_raises_and_the_bus_keeps_working(
    harness: Harness, bus: Bus
) -> None:
    received = Recorder()
    await bus.subscribe(harness.queue("a"), [PING], received)

    with pytest.raises(UnroutableError, match="nobody.listens"):
        await bus.publish(ping(1), routing_key="nobody.listens")

    await bus.publish(ping(2))
    await eventually(lambda: received.ns() == [2], "the routable event")


async def test_one_event_published_at_once_to_a_bound_and_an_unbound_key_fails_only_there(
    harness: Harness, bus: Bus
) -> None:
    received = Recorder()
    await bus.subscribe(harness.queue("a"), [PING], received)
    sent = ping(1)

    outcomes = await asyncio.gather(
        bus.publish(sent, routing_key="nobody.listens"),
        bus.publish(sent),
        return_exceptions=True,
    )

    assert isinstance(outcomes[0], UnroutableError)
    assert outcomes[1] is None
    await eventually(lambda: received.ns() == [1], "the routable copy")


async def test_payload_that_is_not_json_serialisable_fails_at_publish(
    harness: Harness, bus: Bus
) -> None:
    await bus.subscribe(harness.queue("a"), [PING], Recorder())
    with pytest.raises(PydanticSerializationError):
        await bus.publish(Event(name=PING, payload={"n": object()}))


# ---- acknowledgement and retries ---------------------------------------------------------------


async def test_ack_comes_after_the_handlers_transaction_commits(
    harness: Harness, bus: Bus, tmp_path: Path
) -> None:
    db = tmp_path / "handled.db"
    async with aiosqlite.connect(db) as conn:
        await conn.execute("create table handled (event_id text not null)")
        await conn.commit()

    async def write_row(event: Event, attempt: int) -> None:
        if event.payload["n"] == -1:
            return  # the marker
        async with aiosqlite.connect(db) as conn:
            await conn.execute("insert into handled values (?)", (str(event.id),))
            if attempt == 1:
                raise RuntimeError("crashed before commit")  # closing without commit: rollback
            await conn.commit()

    async def rows() -> int:
        async with aiosqlite.connect(db) as conn, conn.execute("select count(*) from handled") as c:
            row = await c.fetchone()
        assert row is not None
        return int(row[0])

    handler = Recorder(write_row)
    await bus.subscribe(harness.queue("a"), [PING, "marker"], handler, prefetch=1)

    sent = ping(1)
    await bus.publish(sent)
    await eventually(lambda: len(handler.events) >= 2, "the redelivery")
    await publish_and_await_marker(bus, [handler])

    assert [e.id for e in handler.events] == [sent.id, sent.id, handler.events[-1].id]
    assert await rows() == 1
    assert await bus.dead_letters(harness.queue("a")) == []


async def test_failed_handler_gets_the_message_again(harness: Harness, bus: Bus) -> None:
    async def fail_first(event: Event, attempt: int) -> None:
        if attempt == 1:
            raise ConnectionResetError("database went away")

    handler = Recorder(fail_first)
    queue = harness.queue("a")
    await bus.subscribe(queue, [PING], handler)

    sent = ping(1)
    await bus.publish(sent)
    await eventually(lambda: len(handler.events) == 2, "the redelivery")

    assert [e.id for e in handler.events] == [sent.id, sent.id]
    assert await bus.dead_letters(queue) == []


async def test_message_failing_every_time_is_dead_lettered_with_the_reason(
    harness: Harness, bus: Bus
) -> None:
    async def always_fail(event: Event, attempt: int) -> None:
        raise ValueError(f"boom on {event.payload['n']}")

    handler = Recorder(always_fail)
    queue = harness.queue("a")
    await bus.subscribe(queue, [PING], handler)

    sent = ping(7)
    await bus.publish(sent)
    [letter] = await dead_letters_eventually(bus, queue, 1)

    assert len(handler.events) == MAX_DELIVERIES
    assert letter.queue == queue
    assert letter.routing_key == PING
    assert letter.reason == "ValueError: boom on 7"
    assert letter.deliveries == MAX_DELIVERIES
    assert Event.model_validate_json(letter.body) == sent
    assert await bus.dead_letters(queue) == [letter], "reading dead letters must not remove them"


async def test_malformed_bodies_are_dead_lettered_and_the_next_message_is_handled(
    harness: Harness, bus: Bus
) -> None:
    handler = Recorder()
    queue = harness.queue("a")
    await bus.subscribe(queue, [PING], handler, prefetch=1)

    await bus.publish_raw(PING, b"not json at all")
    await bus.publish_raw(PING, b'{"name": 1}')
    await bus.publish(ping(1))
    await eventually(lambda: handler.ns() == [1], "the good message")
    letters = await dead_letters_eventually(bus, queue, 2)

    assert [letter.body for letter in letters] == ["not json at all", '{"name": 1}']
    assert all(letter.reason.startswith("MalformedMessage: ") for letter in letters)
    assert all(letter.deliveries == 1 and letter.routing_key == PING for letter in letters)
    assert handler.ns() == [1]


async def test_permanent_error_is_dead_lettered_after_one_delivery(
    harness: Harness, bus: Bus
) -> None:
    async def unknown_lead(event: Event, attempt: int) -> None:
        raise PermanentError("lead 42 does not exist")

    handler = Recorder(unknown_lead)
    queue = harness.queue("a")
    await bus.subscribe(queue, [PING], handler)

    await bus.publish(ping(1))
    [letter] = await dead_letters_eventually(bus, queue, 1)

    assert len(handler.events) == 1
    assert letter.reason == "PermanentError: lead 42 does not exist"
    assert letter.deliveries == 1


def halves(event: Event) -> list[Event]:
    """A splitter for test batches: ``{"items": [...]}`` cut in two."""
    items = event.payload.get("items")
    if not isinstance(items, list) or len(items) < 2:
        return []
    middle = len(items) // 2
    return [
        Event(name=event.name, payload={"items": half}) for half in (items[:middle], items[middle:])
    ]


async def test_a_failing_batch_is_split_until_its_one_bad_item_is_dead_lettered_alone(
    harness: Harness, bus: Bus
) -> None:
    handled: list[int] = []

    async def refuse_item_5(event: Event) -> None:
        items = event.payload["items"]
        assert isinstance(items, list)
        if 5 in items:
            raise ValueError("item 5 cannot be stored")
        handled.extend(int(item) for item in items)

    other = Recorder()
    queue, bystander = harness.queue("batches"), harness.queue("bystander")
    await bus.subscribe(queue, [PING], refuse_item_5, split=halves)
    await bus.subscribe(bystander, [PING], other)

    batch = Event(name=PING, payload={"items": list(range(8))})
    await bus.publish(batch)
    [letter] = await dead_letters_eventually(bus, queue, 1)
    await eventually(lambda: len(handled) == 7, "every good item")

    assert sorted(handled) == [0, 1, 2, 3, 4, 6, 7], "each good item exactly once"
    assert Event.model_validate_json(letter.body).payload == {"items": [5]}
    assert letter.reason == "ValueError: item 5 cannot be stored"
    assert letter.deliveries == MAX_DELIVERIES, "the last part is retried like any message"
    assert letter.routing_key == PING, "a dead part is replayed where its batch was published"
    assert [e.id for e in other.events] == [batch.id], "other queues get the batch once, unsplit"


async def test_dead_letters_are_listed_oldest_first_up_to_the_limit(
    harness: Harness, bus: Bus
) -> None:
    async def reject(event: Event, attempt: int) -> None:
        raise PermanentError(f"no {event.payload['n']}")

    queue = harness.queue("a")
    await bus.subscribe(queue, [PING], Recorder(reject), prefetch=1)
    for n in range(3):
        await bus.publish(ping(n))
    await dead_letters_eventually(bus, queue, 3)

    assert [d.reason for d in await bus.dead_letters(queue, limit=2)] == [
        "PermanentError: no 0",
        "PermanentError: no 1",
    ]
    assert [d.reason for d in await bus.dead_letters(queue)] == [
        f"PermanentError: no {n}" for n in range(3)
    ]
    assert await bus.dead_letters(harness.queue("never-declared")) == []


# ---- flow control and consumers ----------------------------------------------------------------


async def test_prefetch_bounds_concurrent_handlers(harness: Harness, bus: Bus) -> None:
    gate = asyncio.Event()
    active, peak, done = 0, 0, 0

    async def hold(event: Event) -> None:
        nonlocal active, peak, done
        active += 1
        peak = max(peak, active)
        await gate.wait()
        active -= 1
        done += 1

    await bus.subscribe(harness.queue("a"), [PING], hold, prefetch=3)
    for n in range(10):
        await bus.publish(ping(n))

    await eventually(lambda: active == 3, "three handlers running")
    await asyncio.sleep(0.3)  # room for a fourth to start, were the bound not enforced
    assert active == 3
    gate.set()
    await eventually(lambda: done == 10, "all ten handled")
    assert peak == 3


async def test_consumer_closed_mid_handler_leaves_the_message_for_the_next_consumer(
    harness: Harness,
) -> None:
    first = await harness.bus(close_timeout=0.2)
    started = asyncio.Event()

    async def stuck(event: Event) -> None:
        started.set()
        await asyncio.Event().wait()

    queue = harness.queue("a")
    await first.subscribe(queue, [PING], stuck)
    sent = ping(1)
    await first.publish(sent)
    await asyncio.wait_for(started.wait(), 15)
    await first.close()  # the handler outlives close_timeout and is cancelled, unacked

    second = await harness.bus()
    handler = Recorder()
    await second.subscribe(queue, [PING], handler)
    await eventually(lambda: len(handler.events) == 1, "the redelivery to the next consumer")
    assert handler.events[0] == sent


async def test_message_whose_consumer_dies_on_every_delivery_is_dead_lettered_by_the_queue(
    harness: Harness,
) -> None:
    queue = harness.queue("a")
    started = asyncio.Event()

    async def stuck(event: Event) -> None:
        started.set()
        await asyncio.Event().wait()

    publisher = await harness.bus()
    for _ in range(MAX_DELIVERIES):
        consumer = await harness.bus(close_timeout=0.05)
        await consumer.subscribe(queue, [PING], stuck)
        if not started.is_set():
            await publisher.publish(ping(1))
        await asyncio.wait_for(started.wait(), 15)
        started.clear()
        await consumer.close()  # as if the process died mid-handler

    [letter] = await dead_letters_eventually(publisher, queue, 1)
    assert letter.reason == "broker dead-lettered it (delivery_limit)"
    assert letter.deliveries == MAX_DELIVERIES
    assert letter.routing_key == PING


async def test_messages_wait_in_the_durable_queue_while_no_consumer_runs(
    harness: Harness,
) -> None:
    first = await harness.bus()
    queue = harness.queue("a")
    await first.subscribe(queue, [PING], Recorder())
    await first.close()

    publisher = await harness.bus()
    await publisher.publish(ping(1))
    await publisher.publish(ping(2))

    handler = Recorder()
    await (await harness.bus()).subscribe(queue, [PING], handler, prefetch=1)
    await eventually(lambda: handler.ns() == [1, 2], "both queued events")


async def test_a_declared_queue_holds_events_published_before_its_first_consumer(
    harness: Harness,
) -> None:
    queue = harness.queue("declared")
    publisher = await harness.bus()
    await publisher.declare(queue, [PING])
    await publisher.publish(ping(1))

    handler = Recorder()
    await (await harness.bus()).subscribe(queue, [PING], handler, prefetch=1)
    await eventually(lambda: handler.ns() == [1], "the event published before the consumer")


# ---- request / reply ---------------------------------------------------------------------------


class Answerer:
    """A responder that records the requests it got and answers each with ``n * 10``; it can be
    told how to behave per request first (wait, fail)."""

    def __init__(self, behave: Callable[[Event, int], Awaitable[None]] | None = None) -> None:
        self.requests: list[Event] = []
        self.answered: list[object] = []
        self._behave = behave

    async def __call__(self, request: Event) -> Event:
        self.requests.append(request)
        if self._behave is not None:
            await self._behave(request, len(self.requests))
        n = request.payload["n"]
        self.answered.append(n)
        return Event(name=PONG, payload={"n": n * 10 if isinstance(n, int) else None})

    def ns(self) -> list[object]:
        return [request.payload["n"] for request in self.requests]


async def test_request_gets_the_reply_of_a_responder_on_another_bus(harness: Harness) -> None:
    server, client = await harness.bus(), await harness.bus()
    answerer = Answerer()
    await server.serve(harness.queue("rpc"), [PING], answerer)

    sent = ping(4, text="привет")
    before = utcnow()
    reply = await client.request(sent, timeout=10)

    assert reply.name == PONG and reply.payload == {"n": 40}
    assert reply.correlation_id == sent.id
    [seen] = answerer.requests
    assert seen.id == sent.id and seen.payload == sent.payload
    assert seen.reply_to is not None
    assert seen.deadline is not None
    assert before + timedelta(seconds=10) <= seen.deadline <= utcnow() + timedelta(seconds=10)
    assert await server.dead_letters(harness.queue("rpc")) == []


async def test_concurrent_requests_from_one_bus_each_get_their_own_reply(
    harness: Harness,
) -> None:
    async def shuffle(request: Event, _: int) -> None:
        n = request.payload["n"]
        assert isinstance(n, int)
        await asyncio.sleep((19 - n) * 0.005)  # the last asked is answered first

    server, client = await harness.bus(), await harness.bus()
    await server.serve(harness.queue("rpc"), [PING], Answerer(shuffle), prefetch=20)

    sent = [ping(n) for n in range(20)]
    replies = await asyncio.gather(*(client.request(event, timeout=15) for event in sent))

    assert [reply.correlation_id for reply in replies] == [event.id for event in sent]
    assert [reply.payload["n"] for reply in replies] == [n * 10 for n in range(20)]


async def test_request_to_a_responder_slower_than_the_timeout_raises_request_timeout(
    harness: Harness, bus: Bus
) -> None:
    gate = asyncio.Event()

    async def slow(request: Event, _: int) -> None:
        await gate.wait()

    answerer = Answerer(slow)
    await bus.serve(harness.queue("rpc"), [PING], answerer)

    loop = asyncio.get_running_loop()
    started = loop.time()
    asked = asyncio.create_task(bus.request(ping(1), timeout=1))
    await eventually(lambda: answerer.ns() == [1], "the request at the responder")
    with pytest.raises(RequestTimeout):
        await asked
    assert loop.time() - started < 5
    gate.set()


async def test_request_past_its_deadline_is_acked_without_reaching_the_responder(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="core.bus")
    queue = harness.queue("rpc")
    client = await harness.bus()
    await client.declare(queue, [PING])
    expired = ping(1, secret="private text")
    with pytest.raises(RequestTimeout):
        await client.request(expired, timeout=0.2)  # nobody serves the queue yet

    answerer = Answerer()
    server = await harness.bus()
    await server.serve(queue, [PING], answerer, prefetch=1)
    reply = await client.request(ping(2), timeout=10)

    assert reply.payload == {"n": 20}
    assert answerer.ns() == [2]
    assert await server.dead_letters(queue) == []
    [dropped] = [r for r in caplog.records if str(expired.id) in r.getMessage()]
    assert dropped.levelno == logging.INFO and PING in dropped.getMessage()
    assert "private text" not in caplog.text


async def test_responder_that_raises_is_retried_then_dead_lettered_and_the_requester_times_out(
    harness: Harness, bus: Bus
) -> None:
    async def always_fail(request: Event, _: int) -> None:
        raise ValueError(f"cannot answer {request.payload['n']}")

    answerer = Answerer(always_fail)
    queue = harness.queue("rpc")
    await bus.serve(queue, [PING], answerer)

    sent = ping(7)
    asked = asyncio.create_task(bus.request(sent, timeout=3))
    [letter] = await dead_letters_eventually(bus, queue, 1)

    assert len(answerer.requests) == MAX_DELIVERIES
    assert letter.reason == "ValueError: cannot answer 7"
    assert letter.deliveries == MAX_DELIVERIES
    assert Event.model_validate_json(letter.body).id == sent.id
    with pytest.raises(RequestTimeout):
        await asked


async def test_request_with_no_bound_queue_raises_unroutable_and_the_bus_keeps_answering(
    harness: Harness, bus: Bus
) -> None:
    await bus.serve(harness.queue("rpc"), [PING], Answerer())

    with pytest.raises(UnroutableError, match="nobody.listens"):
        await bus.request(ping(1), routing_key="nobody.listens", timeout=10)

    reply = await bus.request(ping(2), timeout=10)
    assert reply.payload == {"n": 20}


async def test_reply_arriving_after_its_request_timed_out_does_not_reach_the_next_request(
    harness: Harness,
) -> None:
    gate = asyncio.Event()

    async def first_is_slow(request: Event, attempt: int) -> None:
        if attempt == 1:
            await gate.wait()

    answerer = Answerer(first_is_slow)
    server, client = await harness.bus(), await harness.bus()
    # prefetch 1: the second request is taken only once the late reply to the first has gone out
    await server.serve(harness.queue("rpc"), [PING], answerer, prefetch=1)

    late = asyncio.create_task(client.request(ping(1), timeout=1))
    await eventually(lambda: answerer.ns() == [1], "the first request at the responder")
    with pytest.raises(RequestTimeout):
        await late
    gate.set()
    second = ping(2)
    reply = await client.request(second, timeout=10)

    assert answerer.answered == [1, 2]
    assert reply.correlation_id == second.id and reply.payload == {"n": 20}


async def test_reply_to_a_requester_that_is_gone_is_dropped_and_the_request_acked(
    harness: Harness,
) -> None:
    gate = asyncio.Event()

    async def first_waits(request: Event, attempt: int) -> None:
        if attempt == 1:
            await gate.wait()

    answerer = Answerer(first_waits)
    queue = harness.queue("rpc")
    server = await harness.bus()
    await server.serve(queue, [PING], answerer, prefetch=1)

    gone = await harness.bus()
    asked = asyncio.create_task(gone.request(ping(1), timeout=30))
    await eventually(lambda: answerer.ns() == [1], "the first request at the responder")
    await gone.close()
    with pytest.raises(RuntimeError, match="closed"):
        await asked
    gate.set()

    reply = await (await harness.bus()).request(ping(2), timeout=10)
    assert reply.payload == {"n": 20}
    assert answerer.answered == [1, 2]
    assert await server.dead_letters(queue) == []


async def test_event_published_to_a_served_queue_without_reply_to_is_answered_into_the_void(
    harness: Harness, bus: Bus
) -> None:
    answerer = Answerer()
    queue = harness.queue("rpc")
    await bus.serve(queue, [PING], answerer, prefetch=1)

    await bus.publish(ping(1))
    reply = await bus.request(ping(2), timeout=10)

    assert answerer.answered == [1, 2]
    assert reply.payload == {"n": 20}
    assert await bus.dead_letters(queue) == []


# ---- watches -----------------------------------------------------------------------------------


async def rabbitmqctl_rows(harness: Harness, *args: str) -> list[dict[str, str]]:
    """``rabbitmqctl list_…`` of the test's vhost, as JSON rows."""
    vhost = unquote(urlsplit(harness.url).path[1:]) or "/"
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl",
        "-q",
        *args,
        "-p",
        vhost,
        "--formatter",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, f"rabbitmqctl {' '.join(args)}: {err.decode()}"
    rows: list[dict[str, str]] = json.loads(out)
    return rows


async def watch_queues(harness: Harness) -> list[str]:
    """The server-named queues bound to the test's exchange: the watches' queues."""
    rows = await rabbitmqctl_rows(harness, "list_bindings", "source_name", "destination_name")
    return sorted(
        {
            row["destination_name"]
            for row in rows
            if row["source_name"] == harness.exchange
            and row["destination_name"].startswith("amq.gen-")
        }
    )


async def test_watcher_gets_the_matching_events_and_no_others(harness: Harness, bus: Bus) -> None:
    await bus.declare(harness.queue("all"), ["#"])  # every key routable, watched or not
    watcher = Recorder()
    await bus.watch(["lead.*", "marker"], watcher)

    for n, key in enumerate(["lead.found", "account.banned", "lead.found.again", "lead.sent"]):
        await bus.publish(ping(n, key=key), routing_key=key)
    await publish_and_await_marker(bus, [watcher])

    assert watcher.ns() == [0, 3, -1]
    assert [event.payload.get("key") for event in watcher.events[:-1]] == [
        "lead.found",
        "lead.sent",
    ]


async def test_two_watchers_on_one_bus_each_get_the_event(harness: Harness, bus: Bus) -> None:
    a, b = Recorder(), Recorder()
    await bus.watch([PING], a)
    await bus.watch(["test.#"], b)

    sent = ping(1)
    await bus.publish(sent)
    await eventually(lambda: a.ns() == [1] and b.ns() == [1], "the event at both watchers")

    assert a.events[0] == sent and b.events[0] == sent
    assert a.events[0] is not b.events[0]


async def test_watch_handler_that_raises_is_logged_and_not_retried_and_later_events_arrive(
    harness: Harness, bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="core.bus")

    async def fail_first(event: Event, attempt: int) -> None:
        if attempt == 1:
            raise RuntimeError("the panel went away")

    watcher = Recorder(fail_first)
    await bus.watch([PING, "marker"], watcher)
    await bus.publish(ping(1))
    await bus.publish(ping(2))
    await publish_and_await_marker(bus, [watcher])

    assert watcher.ns() == [1, 2, -1]
    [failed] = [r for r in caplog.records if "the panel went away" in str(r.exc_info)]
    assert failed.levelno == logging.WARNING


async def test_watch_drops_a_body_that_is_not_an_event_with_a_warning_that_does_not_quote_it(
    harness: Harness, bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="core.bus")
    watcher = Recorder()
    await bus.watch([PING], watcher)

    await bus.publish_raw(PING, b'{"secret": "private text"}')
    await bus.publish(ping(1))
    await eventually(lambda: watcher.ns() == [1], "the good event")

    [dropped] = [r for r in caplog.records if "not an Event" in r.getMessage()]
    assert dropped.levelno == logging.WARNING
    assert "private text" not in caplog.text


async def test_watch_gets_nothing_published_before_it_started(harness: Harness) -> None:
    publisher = await harness.bus()
    await publisher.declare(harness.queue("all"), ["#"])
    await publisher.publish(ping(1))

    watcher = Recorder()
    await (await harness.bus()).watch([PING, "marker"], watcher)
    await publisher.publish(ping(2))
    await publish_and_await_marker(publisher, [watcher])

    assert watcher.ns() == [2, -1]


async def test_closing_the_bus_ends_its_watch_and_leaves_no_queue_behind(
    harness: Harness,
) -> None:
    watching, publisher = await harness.bus(), await harness.bus()
    watcher = Recorder()
    await watching.watch([PING], watcher)
    await publisher.publish(ping(1))  # routable: the watch's queue is bound to PING
    await eventually(lambda: watcher.ns() == [1], "the event while watching")
    queues = await watch_queues(harness) if harness.kind == "rabbit" else []
    assert len(queues) == (1 if harness.kind == "rabbit" else 0)

    await watching.close()

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while True:  # the broker drops an exclusive queue as it notices the connection is gone
        try:
            await publisher.publish(ping(2))
        except UnroutableError:
            break
        assert loop.time() < deadline, "the watch's queue outlived its bus"
        await asyncio.sleep(0.05)
    assert watcher.ns() == [1]
    if harness.kind == "rabbit":
        assert await watch_queues(harness) == []
        listed = await rabbitmqctl_rows(harness, "list_queues", "name")
        assert not {row["name"] for row in listed} & set(queues)


# ---- the factory -------------------------------------------------------------------------------


def test_make_bus_refuses_an_unknown_scheme_without_echoing_the_password() -> None:
    with pytest.raises(ValueError, match="'redis://'") as raised:
        make_bus("redis://user:s3cret@localhost/0")
    assert "s3cret" not in str(raised.value)


# ---- RabbitMQ only -----------------------------------------------------------------------------


@pytest.mark.broker_outage
@pytest.mark.slow
async def test_subscriber_and_publisher_recover_after_a_broker_restart(
    harness: Harness, bus: Bus
) -> None:
    if harness.kind != "rabbit":
        pytest.skip("a broker restart only exists for RabbitMQ")
    handler = Recorder()
    await bus.subscribe(harness.queue("a"), [PING], handler)
    await bus.publish(ping(1))
    await eventually(lambda: handler.ns() == [1], "the event before the restart")

    during_outage: asyncio.Task[None] | None = None
    try:
        await rabbitmqctl("stop_app")
        during_outage = asyncio.create_task(bus.publish(ping(2)))  # retried until it is back
    finally:
        await rabbitmqctl("start_app")
        await rabbitmqctl("await_startup")
    assert during_outage is not None
    await asyncio.wait_for(during_outage, 25)
    await bus.publish(ping(3))

    await eventually(lambda: handler.ns() == [1, 2, 3], "the events after the restart", within=25)


@pytest.mark.broker_outage
@pytest.mark.slow
async def test_requests_are_answered_again_after_a_broker_restart(harness: Harness) -> None:
    if harness.kind != "rabbit":
        pytest.skip("a broker restart only exists for RabbitMQ")
    server, client = await harness.bus(), await harness.bus()
    await server.serve(harness.queue("rpc"), [PING], Answerer())
    assert (await client.request(ping(1), timeout=10)).payload == {"n": 10}

    try:
        await rabbitmqctl("stop_app")
    finally:
        await rabbitmqctl("start_app")
        await rabbitmqctl("await_startup")

    # The reply queue went with the broker: the robust channel must have declared it again.
    reply = await client.request(ping(2), timeout=25)
    assert reply.payload == {"n": 20}


@pytest.mark.slow
async def test_watch_gets_events_again_on_a_new_queue_after_the_connection_drops(
    harness: Harness, bus: Bus
) -> None:
    if harness.kind != "rabbit":
        pytest.skip("a dropped connection only exists for RabbitMQ")
    await bus.declare(harness.queue("all"), ["#"])  # publishes stay routable while it is gone
    watcher = Recorder()
    await bus.watch([PING], watcher)
    await bus.publish(ping(1))
    await eventually(lambda: watcher.ns() == [1], "the event before the drop")
    [before] = await watch_queues(harness)

    vhost = unquote(urlsplit(harness.url).path[1:]) or "/"
    await rabbitmqctl("close_all_connections", "-p", vhost, "test: a dropped connection")

    # At most once: what is published before the queue is declared again is lost, so keep going.
    loop = asyncio.get_running_loop()
    deadline, n = loop.time() + 25, 2
    while not any(isinstance(got, int) and got >= 2 for got in watcher.ns()):
        assert loop.time() < deadline, "no event reached the watch after the drop"
        await bus.publish(ping(n))
        n += 1
        await asyncio.sleep(0.1)
    [after] = await watch_queues(harness)
    assert after != before  # named afresh by the server


@pytest.mark.parametrize("after", [0.0, 0.002])
async def test_a_bus_stopped_while_it_connects_leaves_nothing_running(
    amqp_url: str, after: float
) -> None:
    # A robust connection cancelled mid-handshake once kept reconnecting by itself: a service
    # stopped while starting never ended (found by the fork runtime's tests).
    bus = make_bus(amqp_url)
    starting = asyncio.create_task(bus.start())
    await asyncio.sleep(after)
    starting.cancel()
    await asyncio.gather(starting, return_exceptions=True)
    await asyncio.sleep(1.5)  # a connection left behind would be reconnecting by now
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    await bus.close()
    assert starting.cancelled(), "the bus connected within the test's pause: nothing was tested"
    assert others == [], f"left running: {others}"
