"""Leads: the list with filters (live: a new lead appears without a reload), one lead with its
source messages and conversation, and the filtered list as CSV."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from admin.access.deps import Viewer
from admin.api.fields import DB_INT_MAX
from admin.pages.errors import page_error
from admin.pages.rendering import render
from admin.pages.viewers import viewer_for
from admin.reads.choices import campaign_choices
from admin.reads.leads import LeadFilter, lead_page, lead_view, leads_csv
from admin.reads.paging import PAGE_SIZE
from core.db import Database

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
STATUSES = ("new", "contacted", "replied", "opted_out", "skipped")


CampaignId = Annotated[int | None, Query(ge=1, le=DB_INT_MAX)]
Text = Annotated[str, Query(max_length=200)]
Day = Annotated[date | None, Query()]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


def lead_filter(
    campaign: CampaignId = None,
    status: Text = "",
    chat: Text = "",
    keyword: Text = "",
    since: Day = None,
    until: Day = None,
    offset: Offset = 0,
) -> LeadFilter:
    """The list's filter from the address: the page and its CSV read the same one."""
    return LeadFilter(campaign, status, chat, keyword, since, until, offset)


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
