"""Leads as operators look for them: filtered by campaign, status, verdict, chat, date and matched
keyword, newest first; one lead with its source messages and conversation; all of them as CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, String, cast, func, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from admin.reads.paging import PAGE_SIZE, capped_count
from admin.reads.people_names import display_name
from core.db import Database
from core.db.models import Campaign, Conversation, Lead, LeadHit

CSV_BATCH = 1000
CSV_COLUMNS = (
    "id",
    "campaign",
    "status",
    "telegram_user_id",
    "username",
    "name",
    "chat",
    "keywords",
    "text",
    "link",
    "hits",
    "first_seen_at",
    "last_seen_at",
    "intent",
    "intent_score",
    "intent_reason",
)
# The verdict filter's values: the second stage's verdicts, and "none" for leads it never judged
# (the campaign's stage was off).
INTENTS = ("lead", "maybe", "ask", "not_lead", "none")


@dataclass(frozen=True)
class LeadFilter:
    campaign_id: int | None = None
    status: str = ""
    chat: str = ""
    keyword: str = ""
    since: date | None = None
    until: date | None = None
    offset: int = 0
    intent: str = ""  # one of INTENTS; empty: any


@dataclass(frozen=True)
class LeadRow:
    lead: Lead
    campaign: str


@dataclass(frozen=True)
class LeadPage:
    rows: list[LeadRow]
    total: int
    filter: LeadFilter
    more: bool = False  # the total was not counted to the end


def _conditions(wanted: LeadFilter, zone: ZoneInfo, dialect: str) -> list[ColumnElement[bool]]:
    """The filter on the leads table alone (no join: counting needs none)."""
    where: list[ColumnElement[bool]] = []
    if wanted.campaign_id is not None:
        where.append(Lead.campaign_id == wanted.campaign_id)
    if wanted.status:
        where.append(Lead.status == wanted.status)
    if wanted.intent == "none":
        where.append(Lead.intent.is_(None))
    elif wanted.intent:
        where.append(Lead.intent == wanted.intent)
    if wanted.chat.strip():
        where.append(Lead.chat_ref.ilike(f"%{wanted.chat.strip()}%"))
    if wanted.keyword.strip():
        where.append(_has_keyword(wanted.keyword.strip(), dialect))
    if wanted.since is not None:
        where.append(Lead.first_seen_at >= _start_of(wanted.since, zone))
    if wanted.until is not None:
        where.append(Lead.first_seen_at < _start_of(wanted.until + timedelta(days=1), zone))
    return where


def _has_keyword(keyword: str, dialect: str) -> ColumnElement[bool]:
    forms = {keyword, keyword.casefold()}
    if dialect == "postgresql":  # JSONB containment: exact, and the planner estimates it well
        keywords = type_coerce(Lead.keywords, JSONB)  # the column is JSONB there
        return or_(*(keywords.contains([form]) for form in forms))
    # SQLite keeps the text json.dumps made: as written, or \u-escaped for non-ASCII
    stored = func.lower(cast(Lead.keywords, String))
    patterns = {f'%"{keyword.casefold()}"%', f"%{json.dumps(keyword.casefold())}%"}
    return or_(*(stored.like(pattern) for pattern in patterns))


def _listed(where: list[ColumnElement[bool]]) -> Select[Lead, str]:
    return select(Lead, Campaign.name).join(Campaign, Campaign.id == Lead.campaign_id).where(*where)


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


async def lead_page(session: AsyncSession, wanted: LeadFilter, zone: ZoneInfo) -> LeadPage:
    where = _conditions(wanted, zone, session.get_bind().dialect.name)
    total, more = await capped_count(session, select(Lead.id).where(*where), wanted.offset)
    rows = await session.execute(
        _listed(where)
        .order_by(Lead.first_seen_at.desc(), Lead.id.desc())
        .limit(PAGE_SIZE)
        .offset(wanted.offset)
    )
    return LeadPage([LeadRow(lead, name) for lead, name in rows], total, wanted, more)


@dataclass(frozen=True)
class LeadView:
    lead: Lead
    campaign: Campaign
    hits: list[LeadHit]
    conversation: Conversation | None


async def lead_view(session: AsyncSession, lead_id: int) -> LeadView | None:
    lead = await session.get(Lead, lead_id)
    if lead is None:
        return None
    campaign = await session.get(Campaign, lead.campaign_id)
    if campaign is None:
        return None
    hits = list(
        await session.scalars(
            select(LeadHit).where(LeadHit.lead_id == lead_id).order_by(LeadHit.seen_at.desc())
        )
    )
    conversation = await session.scalar(select(Conversation).where(Conversation.lead_id == lead_id))
    return LeadView(lead, campaign, hits, conversation)


async def lead_row(session: AsyncSession, lead_id: int) -> LeadRow | None:
    """One row of the list, as it is now (after an operator's mark)."""
    found = (await session.execute(_listed([Lead.id == lead_id]))).first()
    return LeadRow(found[0], found[1]) if found else None


async def leads_csv(db: Database, wanted: LeadFilter, zone: ZoneInfo) -> AsyncIterator[str]:
    """Every lead the filter matches, as CSV text in batches (a big export never sits in memory
    whole); ids are keyset-paged so rows added meanwhile do not shift the batches."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    yield _drain(out)
    last_id: int | None = None
    while True:
        async with db.session() as session:
            where = _conditions(wanted, zone, session.get_bind().dialect.name)
            if last_id is not None:
                where.append(Lead.id < last_id)
            query = _listed(where).order_by(Lead.id.desc()).limit(CSV_BATCH)
            rows = list(await session.execute(query))
        if not rows:
            return
        for lead, campaign in rows:
            writer.writerow(_csv_row(lead, campaign))
        last_id = rows[-1][0].id
        yield _drain(out)


def _csv_row(lead: Lead, campaign: str) -> list[str]:
    profile = lead.profile or {}
    return [
        str(lead.id),
        campaign,
        lead.status,
        str(lead.telegram_user_id),
        lead.username or "",
        display_name(profile, lead.username, lead.telegram_user_id),
        lead.chat_ref or "",
        " ".join(lead.keywords or []),
        _no_formula(lead.text),
        lead.link or "",
        str(lead.hits),
        lead.first_seen_at.isoformat(),
        lead.last_seen_at.isoformat(),
        lead.intent or "",
        "" if lead.intent_score is None else f"{lead.intent_score:.2f}",
        _no_formula(lead.intent_reason or ""),
    ]


def _no_formula(text: str) -> str:
    """A spreadsheet must not run a lead's message as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _drain(out: io.StringIO) -> str:
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text
