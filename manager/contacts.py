"""The contact registry every campaign shares: do-not-contact, and one first message per window.

Rows are locked while a decision is made (``FOR UPDATE`` on PostgreSQL; SQLite serialises writers
anyway), so two campaigns that find the same person at the same moment cannot both write first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Contact
from core.db.upsert import insert_ignore_many


async def locked_contacts(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, Contact]:
    """The users' rows, made if missing and locked in user id order, so that two transactions
    never wait on each other in a circle."""
    users = sorted(set(user_ids))
    rows = [{"telegram_user_id": user, "do_not_contact": False} for user in users]
    await insert_ignore_many(session, Contact, rows)
    query = (
        select(Contact)
        .where(Contact.telegram_user_id.in_(users))
        .order_by(Contact.telegram_user_id)
        .with_for_update()
        .execution_options(populate_existing=True)  # fresh values, read under the lock
    )
    return {contact.telegram_user_id: contact for contact in await session.scalars(query)}


@dataclass(frozen=True)
class Claim:
    """A campaign wants to write first to a user."""

    user_id: int
    campaign_id: int
    window_days: int


async def reserve_first_contacts(
    session: AsyncSession, claims: Sequence[Claim], *, now: datetime
) -> list[str | None]:
    """Settle the claims in order, each with the reason it may not write first (None: it may);
    a user claimed twice in one batch is given to the first claim only."""
    locked = await locked_contacts(session, (claim.user_id for claim in claims))
    return [_claim(locked[claim.user_id], claim, now) for claim in claims]


def _claim(contact: Contact, claim: Claim, now: datetime) -> str | None:
    if contact.do_not_contact:
        return f"do not contact: {contact.dnc_reason or 'opted out'}"
    first = contact.first_contacted_at
    if first is not None:
        first = first if first.tzinfo else first.replace(tzinfo=UTC)
        if now - first < timedelta(days=claim.window_days):
            who = (
                "this campaign"
                if contact.first_campaign_id == claim.campaign_id
                else f"campaign {contact.first_campaign_id}"
            )
            return f"already contacted by {who} on {first:%Y-%m-%d}"
    contact.first_contacted_at = now
    contact.first_campaign_id = claim.campaign_id
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
    contact = (await locked_contacts(session, [user_id]))[user_id]
    if contact.do_not_contact:
        return False
    contact.do_not_contact = True
    contact.dnc_reason = reason
    contact.dnc_at = datetime.now(UTC)
    return True


async def is_do_not_contact(session: AsyncSession, user_id: int) -> bool:
    return user_id in await do_not_contact_among(session, [user_id])


async def do_not_contact_among(session: AsyncSession, user_ids: Iterable[int]) -> set[int]:
    """Which of the users are on the do-not-contact list, in one query."""
    wanted = set(user_ids)
    if not wanted:
        return set()
    query = select(Contact.telegram_user_id).where(
        Contact.telegram_user_id.in_(wanted), Contact.do_not_contact.is_(True)
    )
    return set(await session.scalars(query))
