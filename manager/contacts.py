"""The contact registry every campaign shares: do-not-contact, and one first message per window.

Rows are locked while a decision is made (``FOR UPDATE`` on PostgreSQL; SQLite serialises writers
anyway), so two campaigns that find the same person at the same moment cannot both write first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Contact
from core.db.upsert import insert_ignore


async def _locked(session: AsyncSession, user_id: int) -> Contact:
    await insert_ignore(session, Contact, {"telegram_user_id": user_id, "do_not_contact": False})
    query = (
        select(Contact)
        .where(Contact.telegram_user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)  # fresh values, read under the lock
    )
    return (await session.scalars(query)).one()


async def reserve_first_contact(
    session: AsyncSession, user_id: int, campaign_id: int, *, window_days: int, now: datetime
) -> str | None:
    """Claim the right to write first to ``user_id``; the reason it may not, or None if it may."""
    contact = await _locked(session, user_id)
    if contact.do_not_contact:
        return f"do not contact: {contact.dnc_reason or 'opted out'}"
    first = contact.first_contacted_at
    if first is not None:
        first = first if first.tzinfo else first.replace(tzinfo=UTC)
        if now - first < timedelta(days=window_days):
            who = (
                "this campaign"
                if contact.first_campaign_id == campaign_id
                else f"campaign {contact.first_campaign_id}"
            )
            return f"already contacted by {who} on {first:%Y-%m-%d}"
    contact.first_contacted_at = now
    contact.first_campaign_id = campaign_id
    return None


async def release_first_contact(session: AsyncSession, user_id: int, campaign_id: int) -> None:
    """Nothing was sent after all (rejected, expired, failed): another campaign may write."""
    await session.execute(
        update(Contact)
        .where(Contact.telegram_user_id == user_id, Contact.first_campaign_id == campaign_id)
        .values(first_contacted_at=None, first_campaign_id=None)
    )


async def mark_do_not_contact(session: AsyncSession, user_id: int, reason: str) -> bool:
    """Put the user on the do-not-contact list; True when they were not on it before."""
    contact = await _locked(session, user_id)
    if contact.do_not_contact:
        return False
    contact.do_not_contact = True
    contact.dnc_reason = reason
    contact.dnc_at = datetime.now(UTC)
    return True


async def is_do_not_contact(session: AsyncSession, user_id: int) -> bool:
    flag = await session.scalar(
        select(Contact.do_not_contact).where(Contact.telegram_user_id == user_id)
    )
    return bool(flag)
