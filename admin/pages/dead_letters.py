"""Dead letters: the outbox rows the relay gave up on, with the reason, the tries, the routing
key and what the event was about; Retry (publish it now through the bus) and Discard, each
confirmed first. Admins only: a retried event changes what the services do."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from admin.access.deps import Admin
from admin.api.fields import DB_INT_MAX
from admin.pages.rendering import render, translations
from admin.pages.viewers import viewer_for
from admin.reads.dead_letters import dead_letter_page
from admin.reads.paging import PAGE_SIZE
from admin.setup.dead_letters import discard_dead_letter, retry_dead_letter
from admin.setup.keyword_sets import SetupError
from core.access import Actor
from core.db import Database

router = APIRouter(include_in_schema=False)
LetterId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]


async def _page(
    request: Request,
    actor: Actor,
    *,
    offset: int = 0,
    notice: str = "",
    problem: tuple[int, str] | None = None,
    status: int = 200,
) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        page = await dead_letter_page(session, offset)
    context = {"page": page, "page_size": PAGE_SIZE, "notice": notice, "problem": problem}
    return render(request, viewer, "dead_letters/page.html", context, status=status)


@router.get("/dead-letters")
async def listing(
    actor: Admin, request: Request, offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0
) -> Response:
    return await _page(request, actor, offset=offset)


@router.post("/dead-letters/{letter_id}/retry")
async def retry(
    actor: Admin,
    request: Request,
    letter_id: LetterId,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    _ = translations((await viewer_for(request, actor)).language).gettext
    try:
        await retry_dead_letter(request.app.state.db, request.app.state.bus, actor, letter_id)
    except SetupError as refused:
        status = 404 if refused.missing else 409  # gone: retried or discarded in another tab
        problem = (letter_id, str(refused))
        return await _page(request, actor, offset=offset, problem=problem, status=status)
    notice = _("Dead letter %(id)s was published again.") % {"id": letter_id}
    return await _page(request, actor, offset=offset, notice=notice)


@router.post("/dead-letters/{letter_id}/discard")
async def discard(
    actor: Admin,
    request: Request,
    letter_id: LetterId,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    _ = translations((await viewer_for(request, actor)).language).gettext
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            await discard_dead_letter(session, actor, letter_id)
    except SetupError as refused:
        problem = (letter_id, str(refused))
        return await _page(request, actor, offset=offset, problem=problem, status=404)
    notice = _("Dead letter %(id)s was discarded.") % {"id": letter_id}
    return await _page(request, actor, offset=offset, notice=notice)
