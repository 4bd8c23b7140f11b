"""Which Telegram users are our own accounts. In a scene the other accounts' lines are the
scene, not its audience: a scripts worker does not report them and the scripts service does not
count them. The ids are read now and then; an unknown sender rereads them at most every few
seconds, so an account whose worker just wrote its id is recognised at once."""

from __future__ import annotations

import time

from sqlalchemy import select

from core.db import Database
from core.db.models import Account

TTL = 60.0  # seconds the ids are trusted
MISS_TTL = 2.0  # an unknown sender rereads them this often at most


class OurAccounts:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._ids: frozenset[int] = frozenset()
        self._loaded = float("-inf")

    async def is_ours(self, user_id: int) -> bool:
        if user_id in await self._ids_within(TTL):
            return True
        return user_id in await self._ids_within(MISS_TTL)

    async def _ids_within(self, ttl: float) -> frozenset[int]:
        if time.monotonic() - self._loaded > ttl:
            async with self._db.session() as session:
                rows = await session.scalars(
                    select(Account.telegram_user_id).where(Account.telegram_user_id.is_not(None))
                )
                self._ids = frozenset(r for r in rows if r is not None)
            self._loaded = time.monotonic()
        return self._ids
