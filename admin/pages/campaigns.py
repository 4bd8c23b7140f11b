"""Campaigns: the list with status and leads; a campaign's page with its numbers (leads, maybes,
conversations by status, links to its leads and inbox), start / pause / stop, and the form with
who counts as a lead (the second stage, ``campaign_intent``) and every outreach setting (the
workspace file's rules, every error next to its field, what was typed kept, nothing written on a
refusal); a new campaign starts paused."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from admin.access.deps import Admin, Viewer
from admin.api.fields import DB_INT_MAX
from admin.pages.campaign_form import (
    LISTS,
    QUIET_END,
    QUIET_ON,
    QUIET_START,
    SECTIONS,
    outreach_from_form,
    typed_from_policy,
)
from admin.pages.campaign_intent import (
    BELOW_CHOICES,
    intent_from_form,
    stored_policy,
    typed_from_intent,
)
from admin.pages.errors import page_error
from admin.pages.rendering import go, render
from admin.pages.viewers import viewer_for
from admin.reads.campaigns import campaign_rows, choices, numbers
from admin.setup.campaigns import (
    CampaignRefused,
    delete_campaign,
    parse_campaign,
    save_campaign,
    set_status,
)
from admin.setup.keyword_sets import SetupError
from admin.workspace.spec import shipped_intent_models
from core.access import Actor
from core.db import Database
from core.db.models import Account, Campaign
from core.intent import IntentPolicy
from core.outreach import OutreachPolicy

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
MAX_FIELD = 20_000  # the prompt's limit; a longer value is refused by the spec, not cut


@router.get("/campaigns")
async def listing(actor: Viewer, request: Request) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        rows = await campaign_rows(session)
    return render(request, viewer, "campaigns/list.html", {"campaigns": rows})


@router.get("/campaigns/new")
async def new(actor: Admin, request: Request) -> Response:
    return await _page(request, actor, None, typed=_typed_new())


@router.get("/campaigns/{campaign_id}")
async def one(actor: Viewer, request: Request, campaign_id: Id) -> Response:
    db: Database = request.app.state.db
    async with db.session() as session:
        campaign = await session.get(Campaign, campaign_id)
        typed = await _typed_from(session, campaign) if campaign else {}
    if campaign is None:
        return page_error(request, 404, f"campaign {campaign_id} does not exist")
    return await _page(request, actor, campaign, typed=typed)


@router.post("/campaigns")
async def create(actor: Admin, request: Request) -> Response:
    return await _save(request, actor, None)


@router.post("/campaigns/{campaign_id}")
async def update(actor: Admin, request: Request, campaign_id: Id) -> Response:
    return await _save(request, actor, campaign_id)


@router.post("/campaigns/{campaign_id}/status")
async def change_status(
    actor: Admin,
    request: Request,
    campaign_id: Id,
    status: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Start (``active``), pause or stop."""
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            await set_status(session, actor, campaign_id, status)
    except SetupError as refused:
        if refused.missing:
            return page_error(request, 404, str(refused))
        return page_error(request, 422, str(refused))
    return go(request, f"/campaigns/{campaign_id}")


@router.post("/campaigns/{campaign_id}/delete")
async def remove(actor: Admin, request: Request, campaign_id: Id) -> Response:
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            await delete_campaign(session, actor, campaign_id)
    except SetupError as refused:
        if refused.missing:
            return page_error(request, 404, str(refused))
        async with db.session() as session:
            campaign = await session.get(Campaign, campaign_id)
            typed = await _typed_from(session, campaign) if campaign else {}
        errors = {"delete": str(refused)}
        return await _page(request, actor, campaign, typed=typed, errors=errors, status=409)
    return go(request, "/campaigns")


async def _save(request: Request, actor: Actor, campaign_id: int | None) -> Response:
    form = await request.form()
    typed = _typed_from_form(form)
    db: Database = request.app.state.db
    async with db.session() as session:
        campaign = await session.get(Campaign, campaign_id) if campaign_id else None
    if campaign_id is not None and campaign is None:
        return page_error(request, 404, f"campaign {campaign_id} does not exist")
    raw: dict[str, Any] = {
        "name": typed["name"],
        "status": campaign.status if campaign else "paused",
        **{field: form.getlist(field) for field in LISTS},
        "outreach": outreach_from_form(typed),
    }
    stored = stored_policy(campaign.intent if campaign else None)
    raw["intent"] = intent_from_form(typed, stored)
    if typed["llm_api_key"].strip():
        raw["llm_api_key"] = typed["llm_api_key"].strip()
    try:
        if too_long := [k for k, v in typed.items() if len(v) > MAX_FIELD]:
            raise CampaignRefused({too_long[0]: f"at most {MAX_FIELD} characters"})
        spec = parse_campaign(raw)
        async with db.transaction() as session:
            saved = await save_campaign(
                session,
                actor,
                spec,
                request.app.state.box,
                campaign_id=campaign_id,
                forget_llm_key=bool(typed["forget_llm_api_key"]),
            )
            saved_id = saved.id
    except SetupError as refused:
        if refused.missing:
            return page_error(request, 404, str(refused))
        errors = refused.errors if isinstance(refused, CampaignRefused) else {"name": str(refused)}
        typed["llm_api_key"] = ""  # a secret is never sent back, not even the one just typed
        return await _page(request, actor, campaign, typed=typed, errors=errors, status=422)
    return go(request, f"/campaigns/{saved_id}")


async def _page(
    request: Request,
    actor: Actor,
    campaign: Campaign | None,
    *,
    typed: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        offered = await choices(session)
        counted = await numbers(session, campaign.id) if campaign else None
    context = {
        "campaign": campaign,
        "numbers": counted,
        "choices": offered,
        "sections": SECTIONS,
        "typed": typed,
        "errors": errors or {},
        "has_llm_key": bool(campaign and campaign.llm_key_secret),
        "quiet": (QUIET_ON, QUIET_START, QUIET_END),
        "intent_models": shipped_intent_models(),
        "below_choices": BELOW_CHOICES,
    }
    return render(request, viewer, "campaigns/page.html", context, status=status)


def _typed_new() -> dict[str, Any]:
    typed: dict[str, Any] = {"name": "", "llm_api_key": "", "forget_llm_api_key": ""}
    typed |= {field: [] for field in LISTS}
    return typed | typed_from_policy(OutreachPolicy()) | typed_from_intent(IntentPolicy())


async def _typed_from(session: AsyncSession, campaign: Campaign) -> dict[str, Any]:
    """The form showing a stored campaign."""
    ids = [x.account_id for x in campaign.account_links]
    rows = await session.execute(select(Account.id, Account.name).where(Account.id.in_(ids)))
    names = {row.id: row.name for row in rows}
    typed: dict[str, Any] = {"name": campaign.name, "llm_api_key": "", "forget_llm_api_key": ""}
    typed["chats"] = [chat.ref for chat in campaign.chats]
    typed["keyword_sets"] = [s.name for s in campaign.keyword_sets]
    for role in ("parser", "manager"):
        links = [x.account_id for x in campaign.account_links if x.role == role]
        typed[f"{role}_accounts"] = [names[a] for a in links if a in names]
    try:
        policy = OutreachPolicy.model_validate(campaign.outreach or {})
    except ValueError:
        policy = OutreachPolicy()  # a hand-edited row: the form offers the defaults to fix it
    return typed | typed_from_policy(policy) | typed_from_intent(stored_policy(campaign.intent))


def _typed_from_form(form: FormData) -> dict[str, Any]:
    typed: dict[str, Any] = {
        key: value for key, value in form.multi_items() if isinstance(value, str)
    }
    typed.setdefault("name", "")
    typed.setdefault("llm_api_key", "")
    typed.setdefault("forget_llm_api_key", "")
    typed |= {field: [v for v in form.getlist(field) if isinstance(v, str)] for field in LISTS}
    return typed
