"""The dashboard, the panel's start page: per campaign or overall, per UTC day over 7, 30 or 90
days, the funnel (messages scanned → leads → first DMs → replies → opt-outs), the reply rate
per prompt version, the LLM's tokens and cost, each account's health, and flags on what moved
well outside its own last 14 days. Live: the numbers refetch on the panel's events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from admin.access.deps import Viewer
from admin.api.fields import DB_INT_MAX
from admin.pages.errors import page_error
from admin.pages.names import N_
from admin.pages.rendering import render
from admin.pages.viewers import viewer_for
from admin.reads.choices import campaign_choices
from admin.reads.dashboard import (
    RANGES,
    Scope,
    Series,
    first_dms,
    funnel,
    totals,
    version_rates,
)
from admin.reads.dashboard_health import Window, account_health, campaign_flags
from core.db import Database
from core.db.models import Campaign

router = APIRouter(include_in_schema=False)
DEFAULT_DAYS = 30
CampaignId = Annotated[int | None, Query(ge=1, le=DB_INT_MAX)]
Days = Annotated[int, Query()]  # 7, 30 or 90; anything else shows the default
FRAGMENT = "dashboard-live"  # the part that refetches on the panel's events
# Words the template shows from data (account states and roles), for the catalogue.
DATA_WORDS = (
    N_("Dashboard"),
    N_("flood wait"),
    N_("peer flood"),
    N_("banned"),
    N_("revoked"),
    N_("paused"),
    N_("parser"),
    N_("manager"),
)


@router.get("/")
async def dashboard(
    actor: Viewer, request: Request, campaign: CampaignId = None, days: Days = DEFAULT_DAYS
) -> Response:
    viewer = await viewer_for(request, actor)
    days = days if days in RANGES else DEFAULT_DAYS  # an address typed by hand: the default
    db: Database = request.app.state.db
    async with db.session() as session:
        if (
            campaign is not None
            and await session.scalar(select(Campaign.id).where(Campaign.id == campaign)) is None
        ):
            return page_error(request, 404, f"campaign {campaign} does not exist")
        scope = Scope(days, campaign)
        # one read of the first DMs serves the range and the flags' three weeks
        dms = await first_dms(session, min(scope.since, Window(scope.today).since), campaign)
        series = await funnel(session, scope, dms)
        health = await account_health(session, campaign)
        choices = await campaign_choices(session)
    context = {
        "scope": scope,
        "ranges": RANGES,
        "campaigns": choices,
        "totals": totals(series),
        "llm": totals(series, ("prompt_tokens", "completion_tokens")),
        "cost": series.total("cost"),
        "chart": _chart(series),
        "versions": version_rates(scope, dms),
        "health": health,
        "flags": campaign_flags(dms) + [flag for account in health for flag in account.flags],
        "query": request.url.query,
    }
    fragment = request.headers.get("hx-target") == FRAGMENT
    name = "dashboard/_live.html" if fragment else "dashboard/page.html"
    return render(request, viewer, name, context)


def _chart(series: Series) -> dict[str, Any]:
    """The numbers the charts draw (labels and colours come from the template)."""
    return {
        "labels": [day.isoformat() for day in series.days],
        **{name: [round(v, 4) for v in values] for name, values in series.values.items()},
    }
