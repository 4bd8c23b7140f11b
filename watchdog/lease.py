"""Only one watchdog acts: the holder of a row lease in ``watchdog_leases``.

The holder renews the row every ``renew_every`` seconds, pushing ``expires_at`` ``ttl`` ahead;
another watchdog takes the row only once it has expired. The holder trusts its lease for ``ttl``
measured from *before* its last successful renewal, so it stops acting no later than a rival
may start (clocks across machines are assumed to agree within a fraction of ``ttl``).
Works the same on PostgreSQL and SQLite (INSERT … ON CONFLICT DO UPDATE … WHERE).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from core.db import Database
from core.db.watchdog_models import WatchdogLease

log = logging.getLogger(__name__)


class Lease:
    def __init__(
        self, db: Database, *, holder: str, ttl: float, renew_every: float, name: str = "watchdog"
    ) -> None:
        self._db = db
        self.holder = holder
        self._ttl = ttl
        self._renew_every = min(renew_every, ttl / 3)  # two renewals may fail before it lapses
        self._name = name
        self._valid_until = 0.0  # event-loop time
        self.changed = asyncio.Event()  # set when the lease is won or lost

    @property
    def held(self) -> bool:
        return asyncio.get_running_loop().time() < self._valid_until

    async def try_hold(self) -> bool:
        """Take or renew the lease; whether this watchdog holds it now."""
        loop = asyncio.get_running_loop()
        asked_at = loop.time()
        was_held = self.held
        now = datetime.now(UTC)
        table = WatchdogLease.__table__
        dialect = self._db.engine.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(WatchdogLease).values(
            name=self._name, holder=self.holder, expires_at=now + timedelta(seconds=self._ttl)
        )
        upsert = statement.on_conflict_do_update(
            index_elements=[WatchdogLease.name],
            set_={"holder": statement.excluded.holder, "expires_at": statement.excluded.expires_at},
            where=or_(table.c.expires_at < now, table.c.holder == self.holder),
        ).returning(WatchdogLease.holder)
        try:
            async with self._db.transaction() as session:
                won = (await session.scalar(upsert)) == self.holder
        except (SQLAlchemyError, OSError) as exc:
            log.warning("watchdog lease not renewed: %s", exc)
            won = False
        if won:
            self._valid_until = asked_at + self._ttl
        if self.held != was_held:
            log.info("watchdog %s %s the lease", self.holder, "holds" if self.held else "lost")
            self.changed.set()
        return self.held

    async def keep(self) -> None:
        """Try to hold the lease forever (the waiting watchdog keeps trying too)."""
        while True:
            await self.try_hold()
            await asyncio.sleep(self._renew_every)

    async def release(self) -> None:
        """Give the lease up at once, so another watchdog need not wait for it to expire."""
        self._valid_until = 0.0
        try:
            async with self._db.transaction() as session:
                await session.execute(
                    delete(WatchdogLease).where(
                        WatchdogLease.name == self._name, WatchdogLease.holder == self.holder
                    )
                )
        except (SQLAlchemyError, OSError) as exc:
            log.warning("watchdog lease not released (it will expire): %s", exc)
