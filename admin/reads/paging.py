"""Paging the panel's lists: one page size, and totals counted only as far as a page needs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

PAGE_SIZE = 50
COUNT_CAP = 1000  # totals above it show as "1000+": counting 100,000 rows costs more than a page


async def capped_count(session: AsyncSession, query: Select[Any], offset: int) -> tuple[int, bool]:
    """How many rows, counted no further than ``COUNT_CAP`` (or a page past ``offset``); and
    whether there are more: a page shows "1000+" rather than count a whole table."""
    cap = max(COUNT_CAP, offset + 2 * PAGE_SIZE)
    capped = query.limit(cap + 1).subquery()
    counted = int(await session.scalar(select(func.count()).select_from(capped)) or 0)
    return min(counted, cap), counted > cap
