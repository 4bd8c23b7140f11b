"""The alert log in the panel (viewer and above): what the notifier sent, to whom, how each
message fared and what each recipient did, filtered by kind, state, fingerprint and day; and the
chats that receive alerts with their subscriptions, read-only (the bot's /settings changes them:
the notifier owns them)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from admin.access.deps import Viewer
from admin.api.fields import DB_INT_MAX
from admin.pages.names import N_
from admin.pages.rendering import render
from admin.pages.viewers import viewer_for
from admin.reads.alerts import STATES, AlertFilter, alert_kinds, alert_page, recipients
from core.db import Database

router = APIRouter(include_in_schema=False)
PAGE = 50
# What the templates translate from the notifier's data, marked for the catalogue extraction.
DATA_WORDS = (
    N_("Alerts"),
    N_("Telegram"),
    N_("critical"),
    N_("warning"),
    N_("info"),
    N_("firing"),
    N_("resolved"),
    N_("handled"),
    N_("event"),
    N_("api"),
    N_("alertmanager"),
    N_("silenced"),
    N_("inhibited"),
    N_("pending"),
    N_("sending"),
    N_("sent"),
    N_("failed"),
    N_("approved"),
    N_("rejected"),
    N_("taken over"),
    N_("handed back"),
    N_("expired"),
)
Text = Annotated[str, Query(max_length=160)]


@router.get("/alerts")
async def alerts(
    actor: Viewer,
    request: Request,
    kind: Text = "",
    state: Text = "",
    fingerprint: Text = "",
    since: Annotated[date | None, Query()] = None,
    before: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
) -> Response:
    viewer = await viewer_for(request, actor)
    start = datetime.combine(since, time(), viewer.zone) if since else None
    wanted = AlertFilter(
        kind or None,
        state if state in STATES else None,
        fingerprint or None,
        start,
        before,
        PAGE,
    )
    db: Database = request.app.state.db
    async with db.session() as session:
        page = await alert_page(session, wanted)
        kinds = await alert_kinds(session)
        chats = await recipients(session)
    # the filters without the cursor: the pager adds its own
    query = urlencode(
        [(k, v) for k, v in request.query_params.multi_items() if k != "before" and v]
    )
    context = {
        "page": page,
        "kinds": kinds,
        "states": STATES,
        "chosen": {"kind": kind, "state": state, "fingerprint": fingerprint, "since": since},
        "query": query,
        "paged": before is not None,
        "recipients": chats,
    }
    return render(request, viewer, "alerts/page.html", context)
