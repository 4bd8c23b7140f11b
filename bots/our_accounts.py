"""Which Telegram users are our own accounts, as a scripts account's worker needs to know: in a
scene, the other accounts' lines are the scene, not its audience, and are not reported."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from core.db import Database
from core.db.models import Account
from core.events import Event

REFRESH = 60.0  # seconds; an account new since is still recognised by the scripts service


class OurAccounts:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._ids: frozenset[int] = frozenset()

    async def keep(self, every: float = REFRESH) -> None:
        while True:
            async with self._db.session() as session:
                rows = await session.scalars(
                    select(Account.telegram_user_id).where(Account.telegram_user_id.is_not(None))
                )
                self._ids = frozenset(r for r in rows if r is not None)
            await asyncio.sleep(every)

    def said(self, event: Event) -> bool:
        """Whether one of our accounts wrote the message ``event`` reports."""
        sender = event.payload.get("sender")
        user_id = sender.get("user_id") if isinstance(sender, dict) else None
        return isinstance(user_id, int) and user_id in self._ids
