"""The in-process bus: RabbitBus semantics (topic bindings, prefetch, ack after the handler returns,
retries, dead letters, watches) inside one event loop, for the demo and the contract suite.

What it shares with RabbitBus (verdicts, reasons, topic matching) lives in ``core.bus.delivery``.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from urllib.parse import urlsplit

from core.bus.base import DeadLetter, Handler, Responder, Splitter, UnroutableError
from core.bus.delivery import (
    broker_reason,
    check_limits,
    judge,
    retry_pause,
    run_watcher,
    topic_matches,
)
from core.bus.rpc import PendingReplies, answering, reply_address, stamp
from core.events import Event, utcnow

# ---- the in-process broker ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Message:
    routing_key: str
    body: bytes
    returned: int = 0  # like a quorum queue's x-delivery-count: times it went back to the queue


@dataclass(eq=False)
class _Queue:
    name: str
    bindings: set[str] = field(default_factory=set)
    ready: deque[_Message] = field(default_factory=deque)
    dead: deque[DeadLetter] = field(default_factory=deque)
    nonempty: asyncio.Event = field(default_factory=asyncio.Event)

    def put(self, message: _Message) -> None:
        self.ready.append(message)
        self.nonempty.set()

    def put_back(self, message: _Message) -> None:
        """A returned message goes back to the head, as RabbitMQ requeues it."""
        self.ready.appendleft(replace(message, returned=message.returned + 1))
        self.nonempty.set()

    async def take(self) -> _Message:
        while not self.ready:
            self.nonempty.clear()
            await self.nonempty.wait()
        return self.ready.popleft()


@dataclass(eq=False, frozen=True)
class _Watcher:
    """A watch: gets what matches its bindings as it is routed, and keeps nothing."""

    bindings: tuple[str, ...]
    deliver: Callable[[bytes], None]

    def matches(self, routing_key: str) -> bool:
        return any(topic_matches(pattern, routing_key) for pattern in self.bindings)


class MemoryBroker:
    """Queues and bindings of one exchange; outlives the buses (clients) attached to it."""

    def __init__(self) -> None:
        self._queues: dict[str, _Queue] = {}
        self._reply_queues: dict[str, Callable[[bytes], None]] = {}
        self._watchers: list[_Watcher] = []

    def declare(self, name: str, bindings: tuple[str, ...]) -> _Queue:
        queue = self._queues.setdefault(name, _Queue(name))
        queue.bindings.update(bindings)
        return queue

    def route(self, routing_key: str, body: bytes) -> None:
        targets = [
            queue
            for queue in self._queues.values()
            if any(topic_matches(pattern, routing_key) for pattern in queue.bindings)
        ]
        watchers = [watcher for watcher in self._watchers if watcher.matches(routing_key)]
        if not targets and not watchers:
            raise UnroutableError(f"no queue is bound to routing key {routing_key!r}")
        for queue in targets:
            queue.put(_Message(routing_key, body))
        for watcher in watchers:
            watcher.deliver(body)

    def watch(self, watcher: _Watcher) -> None:
        self._watchers.append(watcher)

    def unwatch(self, watcher: _Watcher) -> None:
        if watcher in self._watchers:
            self._watchers.remove(watcher)

    def queue(self, name: str) -> _Queue | None:
        return self._queues.get(name)

    def open_replies(self, address: str, deliver: Callable[[bytes], None]) -> None:
        """A bus's reply queue: what is sent to ``address`` goes to ``deliver``, unqueued."""
        self._reply_queues[address] = deliver

    def close_replies(self, address: str) -> None:
        self._reply_queues.pop(address, None)

    def reply(self, address: str, body: bytes) -> None:
        """Like RabbitMQ's default exchange, not mandatory: nobody at ``address``, no reply."""
        if (deliver := self._reply_queues.get(address)) is not None:
            deliver(body)


# One broker per (event loop, url, exchange): every service of `coolthing demo` builds its own bus
# from the same URL and must meet the others, as RabbitMQ clients meet on one broker.
_BROKERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], MemoryBroker]]
_BROKERS = weakref.WeakKeyDictionary()


def shared_broker(url: str, exchange: str) -> MemoryBroker:
    parts = urlsplit(url)
    brokers = _BROKERS.setdefault(asyncio.get_running_loop(), {})
    return brokers.setdefault((parts.netloc + parts.path, exchange), MemoryBroker())


# ---- the bus -----------------------------------------------------------------------------------


class _Consumer:
    """One subscription: takes at most ``prefetch`` messages at a time and runs them as tasks."""

    def __init__(
        self,
        bus: InMemoryBus,
        queue: _Queue,
        handler: Handler,
        prefetch: int,
        split: Splitter | None,
    ) -> None:
        self._bus, self._queue, self._handler, self._split = bus, queue, handler, split
        self._slots = asyncio.Semaphore(prefetch)
        self.inflight: set[asyncio.Task[None]] = set()
        self.fetcher = asyncio.create_task(self._fetch(), name=f"bus-consumer:{queue.name}")

    async def _fetch(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                message = await self._queue.take()
            except asyncio.CancelledError:
                self._slots.release()
                raise
            task = asyncio.create_task(self._deliver(message))
            self.inflight.add(task)
            task.add_done_callback(partial(self._done, message))

    def _done(self, message: _Message, task: asyncio.Task[None]) -> None:
        self.inflight.discard(task)
        self._slots.release()
        if task.cancelled():
            # Stopped before settling (mid-handler, or even before it started): not acked, so
            # it goes back, as RabbitMQ returns what a closed channel held.
            self._return(message)

    def _return(self, message: _Message) -> None:
        """What a quorum queue does when a consumer goes away holding ``message``."""
        deliveries = message.returned + 1
        if deliveries < self._bus.max_deliveries:
            self._queue.put_back(message)
        else:  # like x-delivery-limit: a message that kills its consumer every time gives up
            letter = _dead_letter(
                self._queue.name, message, broker_reason("delivery_limit"), deliveries
            )
            self._queue.dead.append(letter)

    async def _deliver(self, message: _Message) -> None:
        bus, queue = self._bus, self._queue
        deliveries = message.returned + 1
        verdict = await judge(
            self._handler,
            message.body,
            queue=queue.name,
            deliveries=deliveries,
            max_deliveries=bus.max_deliveries,
            closing=lambda: bus.closed,
            split=self._split,
        )
        if verdict.action == "split":  # the parts to this queue alone, each counted afresh
            for part in verdict.parts:
                queue.put(_Message(message.routing_key, part.model_dump_json().encode()))
        elif verdict.action == "retry":
            await asyncio.sleep(retry_pause(bus.retry_delay, deliveries))
            queue.put_back(message)
        elif verdict.action == "dead":
            queue.dead.append(_dead_letter(queue.name, message, verdict.reason, deliveries))


def _dead_letter(queue: str, message: _Message, reason: str, deliveries: int) -> DeadLetter:
    return DeadLetter(
        queue=queue,
        routing_key=message.routing_key,
        body=message.body.decode("utf-8", errors="replace"),
        reason=reason,
        deliveries=deliveries,
        dead_at=utcnow(),
    )


class InMemoryBus:
    """A client of the process's in-memory broker for its exchange; see ``core.bus.base``."""

    def __init__(
        self,
        url: str = "memory://",
        *,
        exchange: str = "coolthing",
        max_deliveries: int = 5,
        prefetch: int = 200,
        retry_delay: float = 0.1,
        close_timeout: float = 30.0,
        broker: MemoryBroker | None = None,
    ) -> None:
        check_limits(max_deliveries, prefetch)
        self.url, self.exchange = url, exchange
        self.max_deliveries, self.prefetch = max_deliveries, prefetch
        self.retry_delay, self.close_timeout = retry_delay, close_timeout
        self._broker = broker
        self._consumers: list[_Consumer] = []
        self._watchers: list[_Watcher] = []
        self._watching: set[asyncio.Task[None]] = set()  # referenced, or they could be collected
        self._reply_to = reply_address()
        self._replies = PendingReplies()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def start(self) -> None:
        if self._closed:
            raise RuntimeError("the bus is closed")
        if self._broker is None:
            self._broker = shared_broker(self.url, self.exchange)

    async def _ready(self) -> MemoryBroker:
        await self.start()
        assert self._broker is not None  # noqa: S101 - start() just set it
        return self._broker

    async def publish(self, event: Event, *, routing_key: str | None = None) -> None:
        # Serialised like on the wire: handlers never share objects with the publisher.
        await self.publish_raw(routing_key or event.name, event.model_dump_json().encode())

    async def publish_raw(self, routing_key: str, body: bytes) -> None:
        """Publish bytes as they are (tests use it to send what no publisher should)."""
        (await self._ready()).route(routing_key, body)

    async def request(
        self,
        event: Event,
        *,
        routing_key: str | None = None,
        timeout: float,  # noqa: ASYNC109 - also the request's deadline, which travels with it
    ) -> Event:
        request = stamp(event, reply_to=self._reply_to, timeout=timeout)

        async def send() -> None:
            broker = await self._ready()
            broker.open_replies(self._reply_to, self._replies.deliver)
            await self.publish(request, routing_key=routing_key)

        return await self._replies.wait(request, send, within=timeout)

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
        assert self._broker is not None  # noqa: S101 - consumers exist only once started
        self._broker.reply(reply_to, reply.model_dump_json().encode())

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
        declared = (await self._ready()).declare(queue, tuple(bindings))
        self._consumers.append(_Consumer(self, declared, handler, prefetch, split))

    async def watch(self, bindings: Sequence[str], handler: Handler) -> None:
        broker, patterns = await self._ready(), tuple(bindings)

        def deliver(body: bytes) -> None:  # called by the publisher: must not wait for handler
            task = asyncio.create_task(run_watcher(handler, body, bindings=patterns))
            self._watching.add(task)
            task.add_done_callback(self._watching.discard)

        watcher = _Watcher(patterns, deliver)
        broker.watch(watcher)
        self._watchers.append(watcher)

    async def declare(self, queue: str, bindings: Sequence[str]) -> None:
        (await self._ready()).declare(queue, tuple(bindings))

    async def dead_letters(self, queue: str, *, limit: int = 100) -> list[DeadLetter]:
        declared = (await self._ready()).queue(queue)
        if declared is None:
            return []
        return [letter.model_copy() for letter in list(declared.dead)[: max(limit, 0)]]

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._replies.close()
        if self._broker is not None:
            self._broker.close_replies(self._reply_to)
            for watcher in self._watchers:
                self._broker.unwatch(watcher)
        self._watchers.clear()
        for task in self._watching:
            task.cancel()
        await asyncio.gather(*self._watching, return_exceptions=True)
        for consumer in self._consumers:
            consumer.fetcher.cancel()
        await asyncio.gather(*(c.fetcher for c in self._consumers), return_exceptions=True)
        inflight = {task for consumer in self._consumers for task in consumer.inflight}
        if inflight:
            _, late = await asyncio.wait(inflight, timeout=self.close_timeout)
            for task in late:
                task.cancel()  # their messages go back to the queue for the next consumer
            await asyncio.gather(*late, return_exceptions=True)
        self._consumers.clear()
