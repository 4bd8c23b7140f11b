"""The audit log as people read it: every row, newest first, filtered by who (the actor's login),
what (the action) and when (a day range in the reader's time zone), with the ids that have a page
turned into links and the details in short ``key: value`` form."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.reads.paging import PAGE_SIZE
from core.db.models import AuditEntry

DETAIL_LIMIT = 300  # characters of one detail value shown; the row keeps all of it


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None
    offset: int = 0


@dataclass(frozen=True)
class Link:
    label: str  # "conversation", "lead", "message", … (translated in the template)
    value: str
    href: str | None  # None: no page shows it yet


@dataclass(frozen=True)
class AuditRow:
    entry: AuditEntry
    links: list[Link]
    details: list[tuple[str, str]]


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int
    filter: AuditFilter


def _filtered(wanted: AuditFilter, zone: ZoneInfo) -> Select[AuditEntry]:
    query = select(AuditEntry)
    if wanted.actor.strip():
        query = query.where(func.lower(AuditEntry.actor) == wanted.actor.strip().casefold())
    if wanted.action:
        query = query.where(AuditEntry.action == wanted.action)
    if wanted.since is not None:
        query = query.where(AuditEntry.at >= _start_of(wanted.since, zone))
    if wanted.until is not None:
        query = query.where(AuditEntry.at < _start_of(wanted.until + timedelta(days=1), zone))
    return query


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


async def audit_page(session: AsyncSession, wanted: AuditFilter, zone: ZoneInfo) -> AuditPage:
    query = _filtered(wanted, zone)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    entries = await session.scalars(
        query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(PAGE_SIZE)
        .offset(wanted.offset)
    )
    rows = [AuditRow(e, _links(e), _details(e.detail or {})) for e in entries]
    return AuditPage(rows, total, wanted)


async def audit_actions(session: AsyncSession) -> list[str]:
    """The actions the log holds, for the filter's choices."""
    found = await session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    return list(found)


def _links(entry: AuditEntry) -> list[Link]:
    conversation = entry.conversation_id
    links: list[Link] = []
    if conversation is not None:
        links.append(Link("conversation", str(conversation), f"/inbox/{conversation}"))
    if entry.message_id is not None:  # a message is shown in its conversation
        href = f"/inbox/{conversation}" if conversation is not None else None
        links.append(Link("message", str(entry.message_id), href))
    if entry.lead_id is not None:
        links.append(Link("lead", str(entry.lead_id), f"/leads/{entry.lead_id}"))
    for label, value in (("campaign", entry.campaign_id), ("account", entry.account_id)):
        if value is not None:
            links.append(Link(label, str(value), None))
    return links


def _details(detail: dict[str, Any]) -> list[tuple[str, str]]:
    """Each detail as ``(key, text)``: strings as they are, anything else as compact JSON."""
    shown: list[tuple[str, str]] = []
    for key in sorted(detail):
        value = detail[key]
        if isinstance(value, str):
            text = value
        else:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        if len(text) > DETAIL_LIMIT:
            text = text[: DETAIL_LIMIT - 1] + "…"
        shown.append((str(key), text))
    return shown
