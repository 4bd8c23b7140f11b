"""The do-not-contact list as people read it: the people no campaign may write to, the most
recently added first, searched by (the start of) their Telegram user id."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import String, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.reads.paging import PAGE_SIZE
from core.db.models import Contact


@dataclass(frozen=True)
class ContactFilter:
    search: str = ""  # digits: the ids that start with them
    offset: int = 0


@dataclass(frozen=True)
class ContactPage:
    rows: list[Contact]
    total: int
    filter: ContactFilter


async def do_not_contact_page(session: AsyncSession, wanted: ContactFilter) -> ContactPage:
    query = select(Contact).where(Contact.do_not_contact.is_(True))
    digits = wanted.search.strip()
    if digits:
        query = query.where(cast(Contact.telegram_user_id, String).like(f"{digits}%"))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(Contact.dnc_at.desc(), Contact.telegram_user_id)
        .limit(PAGE_SIZE)
        .offset(wanted.offset)
    )
    return ContactPage(list(rows), total, wanted)
