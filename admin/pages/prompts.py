"""Prompts and templates: the campaigns with their current prompt, and one campaign's page —
the editor (the workspace file's rules, the template line next to the field, nothing written on a
refusal), every version with its results, a diff of any two, "use this version", and a preview
rendered for a real lead of the campaign."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.access.deps import Admin, Viewer
from admin.api.fields import DB_INT_MAX
from admin.pages.errors import page_error
from admin.pages.rendering import go, render
from admin.pages.viewers import viewer_for
from admin.reads.prompts import LeadChoice, Preview, diff, lead_choices, preview, versions
from admin.setup.keyword_sets import SetupError
from admin.setup.prompts import (
    campaign_of,
    parse_prompt,
    policy_of,
    save_prompt,
    use_version,
    version_source,
)
from core.access import Actor
from core.db import Database
from core.db.models import Campaign, Lead
from manager.prompts import TemplateProblem, template_version

router = APIRouter(include_in_schema=False)
CampaignId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
Version = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")]
Picked = Annotated[str, Query(max_length=40)]  # a version or a lead id, checked below
_VERSION = re.compile(r"[0-9a-f]{12}")


@router.get("/prompts")
async def campaigns(actor: Viewer, request: Request) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        found = (await session.scalars(select(Campaign).order_by(Campaign.name))).all()
    rows = [(c, *_current(c)) for c in found]
    return render(request, viewer, "prompts/campaigns.html", {"rows": rows})


def _current(campaign: Campaign) -> tuple[str, str]:
    """(version, text) of the campaign's prompt, or ("", the reason) when it cannot be read."""
    try:
        prompt = policy_of(campaign).prompt
    except SetupError as refused:
        return "", str(refused)
    return template_version(prompt), prompt


@router.get("/campaigns/{campaign_id}/prompt")
async def page(
    actor: Viewer,
    request: Request,
    campaign_id: CampaignId,
    a: Picked = "",
    b: Picked = "",
    lead: Picked = "",
    version: Picked = "",
) -> Response:
    wanted = {"a": a, "b": b, "lead": lead, "version": version}
    return await _page(request, actor, campaign_id, wanted=wanted)


async def _page(
    request: Request,
    actor: Actor,
    campaign_id: int,
    *,
    wanted: dict[str, str] | None = None,
    typed: dict[str, str | None] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    wanted = wanted or {}
    errors = dict(errors or {})
    async with db.session() as session:
        campaign = await session.get(Campaign, campaign_id)
        if campaign is None:
            return page_error(request, 404, f"campaign {campaign_id} does not exist")
        try:
            policy = policy_of(campaign)
        except SetupError as refused:
            return page_error(request, 409, str(refused))
        current = template_version(policy.prompt)
        listed = await versions(session, campaign.id, policy.prompt)
        known = {v.version: v for v in listed}
        a, b = _pair(wanted, [v.version for v in listed])
        for chosen in (a, b):
            if chosen and chosen not in known:
                return page_error(request, 404, f"campaign has no prompt version {chosen!r}")
        leads = await lead_choices(session, campaign.id)
        shown = await _preview(session, campaign, wanted, leads, errors)
    typed = {"prompt": policy.prompt, **(typed or {})}
    if typed.get("templates") is None:  # not sent: the campaign's
        typed["templates"] = "\n".join(policy.templates)
    context: dict[str, Any] = {
        "campaign": campaign,
        "current": current,
        "versions": listed,
        "typed": typed,
        "errors": errors,
        "a": a,
        "b": b,
        "rows": diff(known[a].source, known[b].source) if a and b else [],
        "leads": leads,
        "preview": shown,
        "picked_lead": shown.lead.id if shown is not None else None,
        "picked_version": wanted.get("version") or current,
    }
    return render(request, viewer, "prompts/page.html", context, status=status)


def _pair(wanted: dict[str, str], listed: list[str]) -> tuple[str, str]:
    """The two versions to compare: as asked, else the one before the newest and the newest."""
    a, b = wanted.get("a", "").strip(), wanted.get("b", "").strip()
    if a or b:
        return a, b
    return (listed[1], listed[0]) if len(listed) > 1 else ("", "")


async def _preview(
    session: AsyncSession,
    campaign: Campaign,
    wanted: dict[str, str],
    leads: list[LeadChoice],
    errors: dict[str, str],
) -> Preview | None:
    """The preview for the lead asked for (or the newest), or None with the reason in errors."""
    raw = wanted.get("lead", "").strip()
    if not raw and not leads:
        return None
    lead_id = int(raw) if raw.isdigit() and int(raw) <= DB_INT_MAX else None
    if raw and lead_id is None:
        errors["lead"] = f"{raw!r} is not a lead id"
        return None
    found = await session.get(Lead, lead_id or leads[0].id)
    if found is None or found.campaign_id != campaign.id:
        errors["lead"] = f"the campaign {campaign.name} has no lead {raw}"
        return None
    version = wanted.get("version", "").strip()
    try:
        source = policy_of(campaign).prompt
        if version:
            if not _VERSION.fullmatch(version):
                raise SetupError(f"{version!r} is not a prompt version")
            source = await version_source(session, campaign, version)
        return await preview(session, policy_of(campaign), source, found)
    except (SetupError, TemplateProblem) as problem:
        errors["preview"] = str(problem)
        return None


@router.post("/campaigns/{campaign_id}/prompt")
async def save(
    actor: Admin,
    request: Request,
    campaign_id: CampaignId,
    prompt: Annotated[str, Form(max_length=20_000)] = "",
    templates: Annotated[str | None, Form(max_length=20_000)] = None,
) -> Response:
    """``templates`` left out keeps the campaign's."""
    typed = {"prompt": prompt, "templates": templates}
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            campaign = await campaign_of(session, campaign_id)
            lines = templates.splitlines() if templates is not None else None
            spec = parse_prompt(campaign, prompt, lines)
            await save_prompt(session, actor, campaign, spec)
    except SetupError as refused:
        if refused.missing:
            return page_error(request, 404, str(refused))
        errors = {refused.field or "prompt": str(refused)}
        return await _page(request, actor, campaign_id, typed=typed, errors=errors, status=422)
    return go(request, f"/campaigns/{campaign_id}/prompt")


@router.post("/campaigns/{campaign_id}/prompt/versions/{version}/use")
async def use(
    actor: Admin, request: Request, campaign_id: CampaignId, version: Version
) -> Response:
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            await use_version(session, actor, campaign_id, version)
    except SetupError as refused:
        if refused.missing:
            return page_error(request, 404, str(refused))
        errors = {"versions": str(refused)}
        return await _page(request, actor, campaign_id, errors=errors, status=409)
    return go(request, f"/campaigns/{campaign_id}/prompt")
