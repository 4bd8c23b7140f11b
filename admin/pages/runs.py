"""Scene runs: the list (status, scene, chat, lines sent so far) and a run's live page — the
scene's lines tick off as they are sent, members' messages appear in between in time order, the
state it is in now, and Pause / Resume / Cancel for operators. The live part is one fragment
(``runs/_live.html``) that asks for itself again every two seconds while the run is not over,
and stops asking once it is (the fragment then renders without its trigger)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from admin.access.deps import Operator, Viewer
from admin.api.fields import DB_INT_MAX
from admin.api.runs import command
from admin.pages.errors import page_error
from admin.pages.rendering import render
from admin.pages.viewers import viewer_for
from admin.reads.paging import PAGE_SIZE
from admin.reads.runs import STATUSES, run_detail, run_page
from core.access import Actor
from core.bus import Bus
from core.db import Database

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
Offset = Annotated[int, Query(ge=0, le=DB_INT_MAX)]
Picked = Annotated[str, Query(max_length=20)]
POLL_SECONDS = 2
_ERROR_STATUS = {"missing": 404, "conflict": 409, "unavailable": 503, "refused": 422}


@router.get("/runs")
async def listing(
    actor: Viewer,
    request: Request,
    status: Picked = "",
    scenario: Picked = "",
    chat: Picked = "",
    offset: Offset = 0,
) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    wanted = status if status in STATUSES else None
    async with db.session() as session:
        page = await run_page(
            session,
            status=wanted,
            scenario_id=_number(scenario),
            chat_id=_number(chat),
            limit=PAGE_SIZE,
            offset=offset,
        )
    context = {
        "page": page,
        "page_size": PAGE_SIZE,
        "statuses": STATUSES,
        "status": wanted or "",
        "scenario": scenario if _number(scenario) else "",
        "chat": chat if _number(chat) else "",
    }
    return render(request, viewer, "runs/list.html", context)


def _number(raw: str) -> int | None:
    raw = raw.strip()
    return int(raw) if raw.isdigit() and 0 < int(raw) <= DB_INT_MAX else None


@router.get("/runs/{run_id}")
async def page(actor: Viewer, request: Request, run_id: Id) -> Response:
    return await _render(request, actor, run_id, "runs/page.html")


@router.get("/runs/{run_id}/live")
async def live(actor: Viewer, request: Request, run_id: Id) -> Response:
    """The live part of the run's page, polled while the run is not over."""
    return await _render(request, actor, run_id, "runs/_live.html")


async def _render(
    request: Request,
    actor: Actor,
    run_id: int,
    template: str,
    *,
    refusal: str = "",
    status: int = 200,
) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    now = datetime.now(UTC)
    async with db.session() as session:
        detail = await run_detail(session, run_id, now=now)
    if detail is None:
        return page_error(request, 404, f"run {run_id} does not exist")
    waited = None
    if detail.state.until is not None:
        waited = max(0, round((detail.state.until - now).total_seconds()))
    context = {
        "detail": detail,
        "run": detail.row.run,
        "seconds_left": waited,
        "poll": POLL_SECONDS,
        "refusal": refusal,
    }
    return render(request, viewer, template, context, status=status)


@router.post("/runs/{run_id}/{action}")
async def act(
    actor: Operator,
    request: Request,
    run_id: Id,
    action: Annotated[Literal["pause", "resume", "cancel"], Path()],
) -> Response:
    """Sent to the scripts service; the live part comes back with its answer."""
    bus: Bus = request.app.state.bus
    result = await command(bus, action, actor, run_id=run_id)
    if result.outcome == "done":
        return await _render(request, actor, run_id, "runs/_live.html")
    said = "; ".join([result.detail, *result.problems]) if result.problems else result.detail
    status = _ERROR_STATUS.get(result.outcome, 422)
    return await _render(request, actor, run_id, "runs/_live.html", refusal=said, status=status)
