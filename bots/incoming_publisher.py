"""What an account hears, onto the bus: chat messages for the parser in batches, the rest singly.

Chat messages for the parser travel as ``message.incoming.batch`` (``core.chat_batch``): after the
first message of a quiet spell the publisher waits ``batch_delay`` for more, then takes whatever
has arrived (at most ``CHAT_BATCH_MAX``), so a busy account sends one bus message for dozens of
chat messages and a quiet one adds a few milliseconds. DMs (for the manager) and what a scripts
account hears in its scenes (for the scripts service) stay one ``message.incoming`` each.

At most ``PUBLISH_WINDOW`` bus messages are unconfirmed at once (one confirm round-trip at a time
would cap a worker at a few hundred a second), published in the order heard. The resume cursor
only moves past a message once it and everything before it are confirmed, so a killed worker
re-reads an unconfirmed batch from Telegram; a republished message is deduplicated downstream.

A parser older than its workers (only ``message.incoming`` bound) makes a batch unroutable: the
publisher then sends chat messages one by one for a minute and tries a batch again, so an upgrade
in either order loses nothing and stops no worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

from core.bus import Bus, UnroutableError
from core.chat_batch import CHAT_BATCH_MAX, ChatMessages
from core.events import Event, MessageIncoming
from core.our_accounts import OurAccounts
from core.telegram import IncomingMessage
from core.topology import DM_ROUTING_KEY, SCENE_ROUTING_KEY

log = logging.getLogger(__name__)

PUBLISH_WINDOW = 256  # unconfirmed bus messages per worker (a batch is one)
READ_AHEAD = 4 * CHAT_BATCH_MAX  # messages read from Telegram and not yet published
SINGLES_FOR = 60.0  # seconds of single messages after the parser refused a batch, then try again


@dataclass(frozen=True, slots=True)
class _Publish:
    event: Event
    routing_key: str | None  # None: the event's name
    cursor: str | None  # the resume point once this and everything before it are confirmed
    scene_sender: int | None = None  # a scene's audience: skipped if one of our accounts wrote it


class IncomingPublisher:
    """Publishes one account's stream; ``cursor`` is where a restarted stream resumes."""

    def __init__(
        self,
        *,
        account_id: int,
        bus: Bus,
        ours: OurAccounts,
        chat_ref_of: Callable[[IncomingMessage], str | None],
        scene_account: bool,
        batch_delay: float,
        batch_max: int = CHAT_BATCH_MAX,
    ) -> None:
        if not 1 <= batch_max <= CHAT_BATCH_MAX:
            raise ValueError(f"batch_max must be 1–{CHAT_BATCH_MAX}, got {batch_max}")
        self.account_id = account_id
        self._bus = bus
        self._ours = ours
        self._chat_ref_of = chat_ref_of
        # A scripts account sits only in the operator's own chats: what it hears there is a
        # scene's audience, for the scripts service, not the parser's lead stream.
        self._scene_account = scene_account
        self._delay = batch_delay
        self._max = batch_max
        self.cursor: str | None = None
        self._singles_until = 0.0  # monotonic time until which chat messages go one by one

    async def run(self, stream: AsyncIterator[IncomingMessage]) -> None:
        """Publish ``stream`` until it ends; its error (or a failed publish) is raised after what
        is in flight settles, with the cursor stopped before the first unconfirmed message."""
        heard: asyncio.Queue[IncomingMessage] = asyncio.Queue(READ_AHEAD)
        reader = asyncio.create_task(_read(stream, heard), name=f"heard:{self.account_id}")
        window: deque[tuple[asyncio.Task[None], str | None]] = deque()
        try:
            while messages := await self._gather(heard, reader):
                for publish in self._publishes(messages):
                    window.append((asyncio.create_task(self._publish(publish)), publish.cursor))
                    while window and (len(window) >= PUBLISH_WINDOW or window[0][0].done()):
                        await self._settle(*window.popleft())
            await reader  # the stream's own error, if it ended with one
        finally:
            reader.cancel()
            results = await asyncio.gather(*(task for task, _ in window), return_exceptions=True)
            for (_, cursor), result in zip(window, results, strict=True):
                if isinstance(result, BaseException):
                    break
                self.cursor = cursor or self.cursor
            await asyncio.gather(reader, return_exceptions=True)

    async def _gather(
        self, heard: asyncio.Queue[IncomingMessage], reader: asyncio.Task[None]
    ) -> list[IncomingMessage]:
        """The next messages in the order heard: the first, then what came within the batch
        delay (at most a batch); none once the stream has ended and everything is taken."""
        if heard.empty():
            getter = asyncio.ensure_future(heard.get())
            await asyncio.wait((getter, reader), return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():  # the stream ended (or failed) with nothing left to publish
                getter.cancel()
                return []
            first = getter.result()
            if self._delay > 0:
                await asyncio.sleep(self._delay)
        else:
            first = heard.get_nowait()  # behind already: no reason to wait for more
        messages = [first]
        while len(messages) < self._max and not heard.empty():
            messages.append(heard.get_nowait())
        return messages

    def _publishes(self, messages: list[IncomingMessage]) -> Iterator[_Publish]:
        """Consecutive chat messages for the parser as one batch, anything else on its own."""
        chat: list[MessageIncoming] = []
        cursor: str | None = None
        for message in messages:
            ref = self._chat_ref_of(message)
            payload = message.as_event(account_id=self.account_id, chat_ref=ref)
            if not message.is_private and not self._scene_account:
                chat.append(payload)
                cursor = message.cursor or cursor
                continue
            if chat:
                yield _Publish(Event.of(ChatMessages(messages=chat)), None, cursor)
                chat, cursor = [], None
            if message.is_private:
                yield _Publish(Event.of(payload), DM_ROUTING_KEY, message.cursor)
            else:
                event = Event.of(payload)
                yield _Publish(event, SCENE_ROUTING_KEY, message.cursor, payload.sender.user_id)
        if chat:
            yield _Publish(Event.of(ChatMessages(messages=chat)), None, cursor)

    async def _publish(self, publish: _Publish) -> None:
        if publish.scene_sender is not None and await self._ours.is_ours(publish.scene_sender):
            return  # another of our accounts' scene line: not the audience
        if publish.routing_key is None:
            await self._publish_chat(publish.event)
            return
        try:
            await self._bus.publish(publish.event, routing_key=publish.routing_key)
        except UnroutableError:
            # Nobody ever declared a consumer (no manager, no scripts service yet): nothing
            # acts on these, and one that stopped the stream would stop the rest of it too.
            log.warning(
                "no queue for %s; a message to account %s dropped",
                publish.routing_key,
                self.account_id,
            )

    async def _publish_chat(self, batch: Event) -> None:
        """The batch, or its messages one by one while the parser only takes single messages (a
        parser older than this worker: workers upgraded first). Neither routable means no
        parser ever ran: ``UnroutableError`` stops the stream here."""
        if time.monotonic() >= self._singles_until:
            try:
                await self._bus.publish(batch)
                return
            except UnroutableError:
                self._singles_until = time.monotonic() + SINGLES_FOR
                log.warning(
                    "nothing takes chat batches (a parser older than this worker, or none "
                    "yet): account %s sends chat messages one by one for %.0f s",
                    self.account_id,
                    SINGLES_FOR,
                )
        for message in batch.payload_as(ChatMessages).messages:
            await self._bus.publish(Event.of(message, correlation_id=batch.correlation_id))

    async def _settle(self, task: asyncio.Task[None], cursor: str | None) -> None:
        await task  # a failed publish stops the stream here; the cursor stays before it
        self.cursor = cursor or self.cursor


async def _read(
    stream: AsyncIterator[IncomingMessage], heard: asyncio.Queue[IncomingMessage]
) -> None:
    async for message in stream:
        await heard.put(message)
