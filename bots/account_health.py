"""What Telegram did to an account, written where the panel and the manager read it.

Each function writes in the caller's transaction (the one that already records what happened to
the send, or a small one of its own), so an account's state and its history never disagree:
``accounts.flood_until`` / ``accounts.peer_flood_until`` and one ``account_events`` row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from bots import telegram_health_metrics
from core.db.models import Account, AccountEvent
from core.events import utcnow

DETAIL_LIMIT = 500


async def record_flood_wait(
    session: AsyncSession, account_id: int, seconds: int, *, now: datetime | None = None
) -> datetime:
    """Telegram told the account to wait ``seconds``: the account's ``flood_until`` (never moved
    earlier by a shorter wait that came later) and one event. Returns when the wait ends."""
    now = now or utcnow()
    until = now + timedelta(seconds=seconds)
    await session.execute(
        update(Account)
        .where(
            Account.id == account_id,
            or_(Account.flood_until.is_(None), Account.flood_until < until),
        )
        .values(flood_until=until)
    )
    session.add(
        AccountEvent(account_id=account_id, kind="flood_wait", seconds=seconds, until=until, at=now)
    )
    telegram_health_metrics.flood_wait(account_id, seconds)
    return until


async def record_peer_flood(
    session: AsyncSession,
    account_id: int,
    cooldown: timedelta,
    detail: str,
    *,
    now: datetime | None = None,
) -> bool:
    """The account may not write to strangers until ``now + cooldown``; the limit and its event
    are written once per limit, even when concurrent sends run into it (the conditional update
    lets one transaction through). True when this call set the limit."""
    now = now or utcnow()
    until = now + cooldown
    limited = await session.scalar(
        update(Account)
        .where(
            Account.id == account_id,
            or_(Account.peer_flood_until.is_(None), Account.peer_flood_until <= now),
        )
        .values(peer_flood_until=until)
        .returning(Account.id)
    )
    if limited is None:
        return False
    add_event(session, account_id, "peer_flood", detail, until=until, now=now)
    telegram_health_metrics.peer_flood(account_id)
    return True


def add_event(
    session: AsyncSession,
    account_id: int,
    kind: str,
    detail: str | None,
    *,
    until: datetime | None = None,
    now: datetime | None = None,
) -> None:
    """One ``account_events`` row (banned, revoked, proxy, peer_flood) in the caller's session."""
    session.add(
        AccountEvent(
            account_id=account_id,
            kind=kind,
            until=until,
            detail=detail[:DETAIL_LIMIT] if detail is not None else None,
            at=now or utcnow(),
        )
    )
