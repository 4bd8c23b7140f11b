"""Campaigns over the API: the same service functions and rules as the panel and the workspace
file (``admin.setup.campaigns``): every outreach setting, start / pause / stop, delete."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.access.deps import Admin, Viewer
from admin.api.deps import DbDep, SessionDep
from admin.api.fields import DB_INT_MAX
from admin.setup.campaigns import (
    CampaignRefused,
    delete_campaign,
    parse_campaign,
    save_campaign,
    set_status,
)
from admin.setup.keyword_sets import SetupError
from core.access import Actor
from core.db import Database
from core.db.models import Account, Campaign, Lead
from core.intent import IntentPolicy, policy_of

router = APIRouter(prefix="/campaigns", tags=["configuration"])
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
Status = Literal["active", "paused", "stopped"]
REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such campaign"},
    409: {"description": "running, or has leads (delete)"},
    422: {"description": "the workspace file's rules, every field at fault with its reason"},
}


class CampaignWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    status: Status | None = Field(
        None, description="absent: a new campaign starts paused, an edited one keeps its status"
    )
    keyword_sets: list[str] = Field(max_length=1000, description="keyword set names")
    chats: list[str] = Field(
        max_length=5000, description="chat references; one not in the list yet is added"
    )
    parser_accounts: list[str] = Field(max_length=1000, description="account names, role parser")
    manager_accounts: list[str] = Field([], max_length=1000, description="names, role manager")
    outreach: dict[str, Any] = Field(
        {}, description="the workspace file's outreach block; absent settings take the defaults"
    )
    intent: dict[str, Any] = Field(
        {},
        description="who counts as a lead (core.intent.IntentPolicy: enabled, model, threshold, "
        "below, learn, judge, judge_band); absent settings take the defaults",
    )
    llm_api_key: str | None = Field(
        None, max_length=500, description="write-only; absent keeps the stored key"
    )
    forget_llm_api_key: bool = Field(False, description="drop the stored key")


class CampaignRead(BaseModel):
    id: int
    name: str
    mode: str
    status: str
    keyword_sets: list[str]
    chats: list[str]
    parser_accounts: list[str]
    manager_accounts: list[str]
    outreach: dict[str, Any] = Field(description="the settings that differ from the defaults")
    intent: IntentPolicy = Field(description="the second stage's policy, defaults filled in")
    has_llm_api_key: bool
    leads: int


async def _read(session: AsyncSession, campaign: Campaign, leads: int) -> CampaignRead:
    ids = [x.account_id for x in campaign.account_links]
    rows = await session.execute(select(Account.id, Account.name).where(Account.id.in_(ids)))
    names = {row.id: row.name for row in rows}
    links = campaign.account_links
    return CampaignRead(
        id=campaign.id,
        name=campaign.name,
        mode=campaign.mode,
        status=campaign.status,
        keyword_sets=[k.name for k in campaign.keyword_sets],
        chats=[c.ref for c in campaign.chats],
        parser_accounts=[names[x.account_id] for x in links if x.role == "parser"],
        manager_accounts=[names[x.account_id] for x in links if x.role == "manager"],
        outreach=dict(campaign.outreach or {}),
        intent=_intent(campaign),
        has_llm_api_key=campaign.llm_key_secret is not None,
        leads=leads,
    )


def _intent(campaign: Campaign) -> IntentPolicy:
    try:
        return policy_of(campaign.intent)
    except ValueError:  # written past validation: what the parser uses then (it logs why)
        return IntentPolicy()


def _refusal(refused: SetupError) -> HTTPException:
    if refused.missing:
        return HTTPException(404, str(refused))
    if isinstance(refused, CampaignRefused):
        detail = [{"field": f, "reason": r} for f, r in refused.errors.items()]
        return HTTPException(422, detail)
    return HTTPException(409, str(refused))


@router.get("", response_model=list[CampaignRead])
async def list_campaigns(_: Viewer, session: SessionDep) -> list[CampaignRead]:
    per_campaign = select(Lead.campaign_id, func.count()).group_by(Lead.campaign_id)
    leads = {row[0]: int(row[1]) for row in await session.execute(per_campaign)}
    campaigns = await session.scalars(select(Campaign).order_by(Campaign.id))
    return [await _read(session, c, leads.get(c.id, 0)) for c in campaigns]


@router.get("/{campaign_id}", response_model=CampaignRead, responses=REFUSALS)
async def get_campaign(_: Viewer, campaign_id: Id, session: SessionDep) -> CampaignRead:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise HTTPException(404, f"campaign {campaign_id} does not exist")
    return await _read(session, campaign, await _leads(session, campaign_id))


async def _leads(session: AsyncSession, campaign_id: int) -> int:
    return int(
        await session.scalar(select(func.count()).where(Lead.campaign_id == campaign_id)) or 0
    )


@router.post("", response_model=CampaignRead, status_code=201, responses=REFUSALS)
async def create_campaign(
    actor: Admin, body: CampaignWrite, db: DbDep, request: Request
) -> CampaignRead:
    return await _save(actor, body, db, request, None)


@router.put("/{campaign_id}", response_model=CampaignRead, responses=REFUSALS)
async def update_campaign(
    actor: Admin, campaign_id: Id, body: CampaignWrite, db: DbDep, request: Request
) -> CampaignRead:
    return await _save(actor, body, db, request, campaign_id)


async def _save(
    actor: Actor, body: CampaignWrite, db: Database, request: Request, campaign_id: int | None
) -> CampaignRead:
    raw = body.model_dump(exclude={"forget_llm_api_key", "llm_api_key", "status"})
    if body.llm_api_key is not None:
        raw["llm_api_key"] = body.llm_api_key
    try:
        async with db.transaction() as session:
            current = await session.get(Campaign, campaign_id) if campaign_id else None
            if campaign_id is not None and current is None:
                raise SetupError(f"campaign {campaign_id} does not exist", missing=True)
            raw["status"] = body.status or (current.status if current else "paused")
            spec = parse_campaign(raw)
            saved = await save_campaign(
                session,
                actor,
                spec,
                request.app.state.box,
                campaign_id=campaign_id,
                forget_llm_key=body.forget_llm_api_key,
            )
            return await _read(session, saved, await _leads(session, saved.id))
    except SetupError as refused:
        raise _refusal(refused) from None


async def _status(actor: Actor, db: Database, campaign_id: int, status: str) -> CampaignRead:
    try:
        async with db.transaction() as session:
            await set_status(session, actor, campaign_id, status)
            campaign = await session.get(Campaign, campaign_id)
            assert campaign is not None  # noqa: S101 - set_status found it
            return await _read(session, campaign, await _leads(session, campaign_id))
    except SetupError as refused:
        raise _refusal(refused) from None


@router.post("/{campaign_id}/start", response_model=CampaignRead, responses=REFUSALS)
async def start_campaign(actor: Admin, campaign_id: Id, db: DbDep) -> CampaignRead:
    """Status ``active``: the parser reads its chats, new leads get a first message."""
    return await _status(actor, db, campaign_id, "active")


@router.post("/{campaign_id}/pause", response_model=CampaignRead, responses=REFUSALS)
async def pause_campaign(actor: Admin, campaign_id: Id, db: DbDep) -> CampaignRead:
    """Status ``paused``: no new leads or first messages; open conversations go on."""
    return await _status(actor, db, campaign_id, "paused")


@router.post("/{campaign_id}/stop", response_model=CampaignRead, responses=REFUSALS)
async def stop_campaign(actor: Admin, campaign_id: Id, db: DbDep) -> CampaignRead:
    """Status ``stopped``: no new leads, and the manager sends nothing more for it."""
    return await _status(actor, db, campaign_id, "stopped")


@router.delete("/{campaign_id}", status_code=204, responses=REFUSALS)
async def remove_campaign(actor: Admin, campaign_id: Id, db: DbDep) -> None:
    """Refused (409) while it runs or once it has leads (stop it instead: it keeps them)."""
    try:
        async with db.transaction() as session:
            await delete_campaign(session, actor, campaign_id)
    except SetupError as refused:
        raise _refusal(refused) from None
