"""A campaign's prompt over the API: the versions with their results, a diff of two, saving a
new one, bringing back an earlier one, and a preview for a real lead. The same services as the
panel (``admin.setup.prompts``, ``admin.reads.prompts``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from admin.access.deps import Admin, Viewer
from admin.api.deps import DbDep, SessionDep
from admin.api.fields import DB_INT_MAX
from admin.api.schemas import Timestamp
from admin.reads.prompts import PromptVersion, diff, preview, versions
from admin.setup.keyword_sets import SetupError
from admin.setup.prompts import (
    campaign_of,
    parse_prompt,
    policy_of,
    save_prompt,
    use_version,
    version_source,
)
from core.db.models import Lead
from manager.prompts import TemplateProblem, template_version

router = APIRouter(prefix="/campaigns/{campaign_id}/prompt", tags=["configuration"])
CampaignId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
VERSION = r"^[0-9a-f]{12}$"
Version = Annotated[str, Path(pattern=VERSION, description="the prompt's content hash")]
Template = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such campaign, version or lead of the campaign"},
    409: {"description": "the campaign's stored outreach settings are invalid"},
    422: {"description": "a template that cannot render, naming its line"},
}


class PromptWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=20_000, description="Jinja2 system prompt")
    templates: list[Template] | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="offline templates ({a|b} variations); absent: kept",
    )


class VersionRead(BaseModel):
    version: str
    source: str
    created_at: Timestamp | None = Field(description="null: current, not stored yet")
    current: bool
    sent: int = Field(description="messages written with it that went out")
    conversations: int
    replied: int = Field(description="conversations that answered after it")
    reply_rate: float | None


class PromptRead(BaseModel):
    campaign_id: int
    campaign: str
    current_version: str
    prompt: str
    templates: list[str]
    versions: list[VersionRead] = Field(description="newest first")


class DiffLineRead(BaseModel):
    kind: str = Field(description="same, changed, removed or added")
    left_no: int | None
    left: str
    right_no: int | None
    right: str


class PreviewRead(BaseModel):
    lead_id: int
    version: str
    messages: list[dict[str, str]] = Field(description="what the model is sent, in order")
    variants: list[dict[str, Any]] = Field(description="each offline template's texts")


def _refusal(refused: SetupError) -> HTTPException:
    if refused.missing:
        return HTTPException(404, str(refused))
    if refused.field is None:  # the campaign's stored settings, not the request
        return HTTPException(409, str(refused))
    return HTTPException(422, [{"field": refused.field, "reason": str(refused)}])


def _version(item: PromptVersion, current: str) -> VersionRead:
    return VersionRead(
        version=item.version,
        source=item.source,
        created_at=item.created_at,
        current=item.version == current,
        sent=item.sent,
        conversations=item.conversations,
        replied=item.replied,
        reply_rate=item.reply_rate,
    )


async def _read(session: Any, campaign_id: int) -> PromptRead:
    campaign = await campaign_of(session, campaign_id)
    policy = policy_of(campaign)
    current = template_version(policy.prompt)
    found = await versions(session, campaign.id, policy.prompt)
    return PromptRead(
        campaign_id=campaign.id,
        campaign=campaign.name,
        current_version=current,
        prompt=policy.prompt,
        templates=list(policy.templates),
        versions=[_version(v, current) for v in found],
    )


@router.get("", response_model=PromptRead, responses=REFUSALS)
async def read_prompt(_: Viewer, campaign_id: CampaignId, session: SessionDep) -> PromptRead:
    try:
        return await _read(session, campaign_id)
    except SetupError as refused:
        raise _refusal(refused) from None


@router.put("", response_model=PromptRead, responses=REFUSALS)
async def save(actor: Admin, campaign_id: CampaignId, body: PromptWrite, db: DbDep) -> PromptRead:
    """Validated like the workspace file; the version is recorded and the manager told."""
    try:
        async with db.transaction() as session:
            campaign = await campaign_of(session, campaign_id)
            spec = parse_prompt(campaign, body.prompt, body.templates)
            await save_prompt(session, actor, campaign, spec)
        async with db.session() as session:
            return await _read(session, campaign_id)
    except SetupError as refused:
        raise _refusal(refused) from None


@router.post("/versions/{version}/use", response_model=PromptRead, responses=REFUSALS)
async def use(actor: Admin, campaign_id: CampaignId, version: Version, db: DbDep) -> PromptRead:
    """Make an earlier version current again."""
    try:
        async with db.transaction() as session:
            await use_version(session, actor, campaign_id, version)
        async with db.session() as session:
            return await _read(session, campaign_id)
    except SetupError as refused:
        raise _refusal(refused) from None


@router.get("/diff", response_model=list[DiffLineRead], responses=REFUSALS)
async def compare(
    _: Viewer,
    campaign_id: CampaignId,
    session: SessionDep,
    a: Annotated[str, Query(pattern=VERSION, description="the older version")],
    b: Annotated[str, Query(pattern=VERSION, description="the newer version")],
) -> list[DiffLineRead]:
    try:
        campaign = await campaign_of(session, campaign_id)
        older = await version_source(session, campaign, a)
        newer = await version_source(session, campaign, b)
    except SetupError as refused:
        raise _refusal(refused) from None
    return [DiffLineRead(**vars(row)) for row in diff(older, newer)]


@router.get("/preview", response_model=PreviewRead, responses=REFUSALS)
async def preview_for(
    _: Viewer,
    campaign_id: CampaignId,
    session: SessionDep,
    lead_id: Annotated[int, Query(ge=1, le=DB_INT_MAX)],
    version: Annotated[str | None, Query(pattern=VERSION, description="default: current")] = None,
) -> PreviewRead:
    """The system prompt and data the model would get for this lead, and the offline
    templates' variations for them."""
    try:
        campaign = await campaign_of(session, campaign_id)
        policy = policy_of(campaign)
        source = policy.prompt
        if version is not None:
            source = await version_source(session, campaign, version)
    except SetupError as refused:
        raise _refusal(refused) from None
    lead = await session.get(Lead, lead_id)
    if lead is None or lead.campaign_id != campaign_id:
        raise HTTPException(404, f"campaign {campaign_id} has no lead {lead_id}")
    try:
        shown = await preview(session, policy, source, lead)
    except TemplateProblem as problem:
        raise HTTPException(422, [{"field": "prompt", "reason": str(problem)}]) from None
    return PreviewRead(
        lead_id=lead.id,
        version=template_version(source),
        messages=shown.messages,
        variants=[{"template": t, "texts": texts} for t, texts in shown.variants],
    )
