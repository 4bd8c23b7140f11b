"""The audit log (admin and above): every recorded decision and access event, newest first,
filtered by who, what and when."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from admin.access.deps import Admin
from admin.pages.rendering import render
from admin.pages.viewers import viewer_for
from admin.reads.audit import AuditFilter, audit_actions, audit_page
from admin.reads.paging import PAGE_SIZE
from core.db import Database

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Query(max_length=64)]
Day = Annotated[date | None, Query()]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


@router.get("/audit")
async def audit(
    actor: Admin,
    request: Request,
    user: Text = "",
    action: Text = "",
    since: Day = None,
    until: Day = None,
    offset: Offset = 0,
) -> Response:
    viewer = await viewer_for(request, actor)
    wanted = AuditFilter(user, action, since, until, offset)
    db: Database = request.app.state.db
    async with db.session() as session:
        page = await audit_page(session, wanted, viewer.zone)
        actions = await audit_actions(session)
    # the filters without the offset: the pager adds its own
    query = urlencode(
        [(k, v) for k, v in request.query_params.multi_items() if k != "offset" and v]
    )
    context = {"page": page, "actions": actions, "page_size": PAGE_SIZE, "query": query}
    return render(request, viewer, "audit/page.html", context)
