"""Leads: the list with filters (live: a new lead appears without a reload), one lead with its
source messages and conversation, and the filtered list as CSV.

Operators teach the second stage from the list: "Lead" / "Not a lead" on a row sends a
``LeadCommand`` to the parser (the only writer of verdicts) with the signed-in user as the actor,
and the row is drawn again from the database with the parser's answer beside it."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from admin.access.deps import Operator, Viewer
from admin.api.fields import DB_INT_MAX
from admin.pages.errors import page_error
from admin.pages.rendering import render, translations
from admin.pages.viewers import viewer_for
from admin.reads.choices import campaign_choices
from admin.reads.leads import INTENTS, LeadFilter, lead_page, lead_row, lead_view, leads_csv
from admin.reads.paging import PAGE_SIZE
from core.db import Database
from core.lead_commands import LeadCommand, LeadMark, send_lead_command

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
STATUSES = ("new", "contacted", "replied", "opted_out", "skipped")


CampaignId = Annotated[int | None, Query(ge=1, le=DB_INT_MAX)]
Text = Annotated[str, Query(max_length=200)]
Day = Annotated[date | None, Query()]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Intent = Annotated[Literal["", "lead", "maybe", "ask", "not_lead", "none"], Query()]


def lead_filter(
    campaign: CampaignId = None,
    status: Text = "",
    chat: Text = "",
    keyword: Text = "",
    since: Day = None,
    until: Day = None,
    offset: Offset = 0,
    intent: Intent = "",
) -> LeadFilter:
    """The list's filter from the address: the page and its CSV read the same one."""
    return LeadFilter(campaign, status, chat, keyword, since, until, offset, intent)


Wanted = Annotated[LeadFilter, Depends(lead_filter)]


@router.get("/leads")
async def leads(actor: Viewer, request: Request, wanted: Wanted) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        page = await lead_page(session, wanted, viewer.zone)
        campaigns = await campaign_choices(session)
    fragment = request.headers.get("hx-target") == "lead-rows"
    context = {
        "page": page,
        "campaigns": campaigns,
        "statuses": STATUSES,
        "intents": INTENTS,
        "notice": "",
        "problem": "",
        "page_size": PAGE_SIZE,
        "query": request.url.query,
    }
    return render(request, viewer, "leads/_rows.html" if fragment else "leads/page.html", context)


@router.get("/leads.csv")
async def leads_export(actor: Viewer, request: Request, wanted: Wanted) -> StreamingResponse:
    """Every lead the filter matches (the page's offset aside)."""
    viewer = await viewer_for(request, actor)
    rows = leads_csv(request.app.state.db, replace(wanted, offset=0), viewer.zone)
    headers = {"Content-Disposition": 'attachment; filename="leads.csv"'}
    return StreamingResponse(rows, media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/leads/{lead_id}")
async def lead(actor: Viewer, request: Request, lead_id: Id) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        view = await lead_view(session, lead_id)
    if view is None:
        return page_error(request, 404, f"lead {lead_id} does not exist")
    return render(request, viewer, "leads/lead.html", {"view": view})


@router.post("/leads/{lead_id}/mark")
async def mark(
    actor: Operator, request: Request, lead_id: Id, mark: Annotated[LeadMark, Form()]
) -> Response:
    """The operator says "is a lead" or "not a lead"; the answer is the row as it is now."""
    command = LeadCommand(lead_id=lead_id, mark=mark, actor=actor)
    result = await send_lead_command(request.app.state.bus, command)
    viewer = await viewer_for(request, actor)
    _ = translations(viewer.language).gettext
    db: Database = request.app.state.db
    async with db.session() as session:
        row = await lead_row(session, lead_id)
    if row is None or result.outcome == "missing":
        return page_error(request, 404, f"lead {lead_id} does not exist")
    notice, problem, status = "", "", 200
    if result.outcome == "done":
        notice = _("Marked a lead.") if mark == "lead" else _("Marked not a lead.")
        if result.written_to:
            notice += " " + _("The manager will write to them.")
    else:  # the parser did not answer: nothing changed, the row says so
        problem = _("Not saved: the parser is not answering. Try again in a minute.")
        status = 503
    context = {"row": row, "l": row.lead, "notice": notice, "problem": problem}
    # the lead's page swaps its verdict box; the list, the row
    shown = "_verdict_box" if request.headers.get("hx-target") == "lead-verdict" else "_row"
    return render(request, viewer, f"leads/{shown}.html", context, status=status)
