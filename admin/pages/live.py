"""Live pages: one server-sent-events stream per open page, fed by one bus watch per admin
process. The stream carries only *what happened* (``lead``, ``draft``, ``sent``, ``handoff``,
``optout``); the page's fragments refetch themselves on the events they show (``hx-trigger=
"sse:draft"``), so the rendering stays in one template per thing and no row is sent twice. They
also refetch when the stream (re)opens (``htmx:sseOpen``): news published between rendering the
page and connecting, or while reconnecting, is caught up that way."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse

from admin.access.deps import Viewer
from core.bus import Bus
from core.events import Event

router = APIRouter(include_in_schema=False)
KINDS = {
    "lead.found": "lead",
    "draft.pending": "draft",
    "message.sent": "sent",
    "conversation.handoff": "handoff",
    "contact.opted_out": "optout",
}
BACKLOG = 100  # per browser: a stalled one loses the oldest news, never slows the others


class LiveFeed:
    """Fans the bus's news out to every open page of this process."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._listeners: set[asyncio.Queue[str]] = set()
        self._watching = asyncio.Lock()
        self._started = False

    async def _ensure_watching(self) -> None:
        async with self._watching:
            if not self._started:
                await self._bus.watch(list(KINDS), self._on_event)
                self._started = True

    async def _on_event(self, event: Event) -> None:
        kind = KINDS.get(event.name)
        if kind is None:
            return
        for queue in list(self._listeners):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(kind)

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue[str]]:
        await self._ensure_watching()
        queue: asyncio.Queue[str] = asyncio.Queue(BACKLOG)
        self._listeners.add(queue)
        try:
            yield queue
        finally:
            self._listeners.discard(queue)

    @property
    def listeners(self) -> int:
        return len(self._listeners)


def feed_of(request: Request) -> LiveFeed:
    feed: LiveFeed = request.app.state.live  # made by ``admin.pages.install``
    return feed


@router.get("/live")
async def live(actor: Viewer, request: Request) -> EventSourceResponse:
    """The news for the open page, as server-sent events (kind as both event name and data)."""
    feed = feed_of(request)

    async def stream() -> AsyncIterator[dict[str, str]]:
        async with feed.listen() as news:
            while True:
                kind = await news.get()
                yield {"event": kind, "data": kind}

    return EventSourceResponse(stream(), ping=15)
