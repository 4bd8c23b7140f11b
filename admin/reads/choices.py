"""What the filter drop-downs offer: ids and names only (a campaign row drags its chats, sets and
accounts along, hundreds of objects a page does not need)."""

from __future__ import annotations

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Account, Campaign


async def campaign_choices(session: AsyncSession) -> list[Row[tuple[int, str]]]:
    return list(await session.execute(select(Campaign.id, Campaign.name).order_by(Campaign.name)))


async def manager_account_choices(session: AsyncSession) -> list[Row[tuple[int, str]]]:
    query = select(Account.id, Account.name).where(Account.role == "manager")
    return list(await session.execute(query.order_by(Account.name)))
