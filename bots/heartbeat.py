"""The worker's sign of life for the watchdog: a ``worker_heartbeats`` row rewritten every few
seconds from its own task, so a worker whose event loop hangs (or a stopped process) goes quiet
while one waiting out a FloodWait keeps beating."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from core.db import Database
from core.db.watchdog_models import WorkerHeartbeat

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, db: Database, account_id: int, *, instance: str, every: float) -> None:
        self._db = db
        self._account_id = account_id
        self._instance = instance
        self._every = every
        self._started_at = datetime.now(UTC)

    async def run(self) -> None:
        """Beat until cancelled; a database hiccup skips a beat instead of stopping the worker."""
        while True:
            try:
                await self.beat()
            except (SQLAlchemyError, OSError) as exc:
                log.warning("heartbeat of account %s not written: %s", self._account_id, exc)
            await asyncio.sleep(self._every)

    async def beat(self) -> None:
        values = {
            "account_id": self._account_id,
            "instance": self._instance,
            "host": socket.gethostname()[:255],
            "pid": os.getpid(),
            "started_at": self._started_at,
            "beat_at": datetime.now(UTC),
        }
        dialect = self._db.engine.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(WorkerHeartbeat).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[WorkerHeartbeat.account_id],
            set_={k: statement.excluded[k] for k in values if k != "account_id"},
        )
        async with self._db.transaction() as session:
            await session.execute(statement)

    async def clear(self) -> None:
        """A worker that ends cleanly leaves no heartbeat behind (only its own, by instance)."""
        try:
            async with self._db.transaction() as session:
                await session.execute(
                    delete(WorkerHeartbeat).where(
                        WorkerHeartbeat.account_id == self._account_id,
                        WorkerHeartbeat.instance == self._instance,
                    )
                )
        except (SQLAlchemyError, OSError) as exc:
            log.warning("heartbeat of account %s not cleared: %s", self._account_id, exc)
