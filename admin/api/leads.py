from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from sqlalchemy import func, select

from admin.access.deps import Viewer
from admin.api.deps import PageDep, SessionDep
from admin.api.fields import DB_INT_MAX, RFC3339Time
from admin.api.schemas import ErrorRead, LeadRead, Page
from core.db.models import Lead
from core.intent import IntentVerdict

router = APIRouter(prefix="/leads", tags=["leads"])


@router.get("", response_model=Page[LeadRead])
async def list_leads(
    _: Viewer,
    session: SessionDep,
    page: PageDep,
    campaign_id: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
    since: Annotated[
        RFC3339Time | None, Query(description="first seen at or after (RFC 3339, with offset)")
    ] = None,
    intent: Annotated[
        Literal[IntentVerdict, "none"] | None,
        Query(description="only this verdict (none: leads of campaigns with the stage off)"),
    ] = None,
) -> Page[LeadRead]:
    """Leads, newest first."""
    query = select(Lead)
    if campaign_id is not None:
        query = query.where(Lead.campaign_id == campaign_id)
    if intent is not None:
        query = query.where(Lead.intent.is_(None) if intent == "none" else Lead.intent == intent)
    if since is not None:
        query = query.where(Lead.first_seen_at >= since)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(Lead.id.desc()).limit(page.limit).offset(page.offset)
    )
    items = [LeadRead.model_validate(row) for row in rows]
    return Page(items=items, total=total or 0, limit=page.limit, offset=page.offset)


@router.get("/{lead_id}", response_model=LeadRead, responses={404: {"model": ErrorRead}})
async def get_lead(
    _: Viewer, session: SessionDep, lead_id: Annotated[int, Path(ge=1, le=DB_INT_MAX)]
) -> LeadRead:
    lead = await session.get(Lead, lead_id)
    if lead is None:
        raise HTTPException(404, f"lead {lead_id} not found")
    return LeadRead.model_validate(lead)
