"""Who has a conversation open: an operator opening one that a colleague is working on sees who
it is before writing. Each open conversation asks every ``HEARTBEAT`` seconds (the fragment in
``inbox/_presence.html``); whoever asked within ``TTL`` counts as here.

Kept in this admin process's memory: the panel runs as one admin process (``coolthing run
admin``); with several behind a balancer each would only know its own visitors."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from admin.access.deps import Viewer
from admin.api.fields import DB_INT_MAX
from admin.pages.errors import page_error
from admin.pages.rendering import render
from admin.pages.viewers import viewer_for
from core.db import Database
from core.db.models import Conversation

router = APIRouter(include_in_schema=False)
HEARTBEAT = 10  # seconds between a page's visits: "every 10s" in inbox/_conversation.html
TTL = 3 * HEARTBEAT  # a closed tab drops off after this; one missed beat is forgiven


@dataclass(frozen=True)
class Visitor:
    login: str
    since: float  # monotonic, when this person opened the conversation


class Presence:
    """conversation id → who looked at it last, and when (monotonic seconds)."""

    def __init__(self) -> None:
        self._seen: dict[int, dict[str, tuple[float, float]]] = {}  # login → (since, last)

    def visit(self, conversation_id: int, login: str, now: float | None = None) -> list[Visitor]:
        """Mark ``login`` as here and return the others here, longest first."""
        now = time.monotonic() if now is None else now
        here = self._seen.setdefault(conversation_id, {})
        for name, (_, last) in list(here.items()):
            if now - last > TTL:
                del here[name]
        since = here[login][0] if login in here else now
        here[login] = (since, now)
        others = [Visitor(name, s) for name, (s, _) in here.items() if name != login]
        return sorted(others, key=lambda v: v.since)


def presence_of(request: Request) -> Presence:
    presence: Presence = request.app.state.presence  # made by ``admin.pages.install``
    return presence


@router.get("/inbox/{conversation_id}/presence")
async def here(
    actor: Viewer, request: Request, conversation_id: Annotated[int, Path(ge=1, le=DB_INT_MAX)]
) -> Response:
    """The colleagues who also have this conversation open (and this visit counts as one)."""
    db: Database = request.app.state.db
    async with db.session() as session:
        if await session.get(Conversation, conversation_id) is None:
            return page_error(request, 404, f"conversation {conversation_id} does not exist")
    viewer = await viewer_for(request, actor)
    now = time.monotonic()
    others = presence_of(request).visit(conversation_id, actor.login, now)
    minutes = [(v.login, int((now - v.since) // 60)) for v in others]
    context = {"others": minutes}
    return render(request, viewer, "inbox/_presence.html", context)
