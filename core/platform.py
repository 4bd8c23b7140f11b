"""What every service process needs, built in one place: database, bus, secrets, outbox relay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from core.bus import Bus
from core.bus.factory import make_bus
from core.db import Database
from core.outbox import OutboxRelay
from core.security import SecretBox, load_secret_box
from core.settings import Settings


@dataclass
class Platform:
    settings: Settings
    db: Database
    bus: Bus
    box: SecretBox
    relay: OutboxRelay


@asynccontextmanager
async def open_platform(settings: Settings, *, migrate: bool = False) -> AsyncIterator[Platform]:
    """Connect to the database and the bus, run the outbox relay; close everything on exit."""
    box = load_secret_box(settings)
    db = Database(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
    if migrate:
        from core.db.migrate import upgrade  # Alembic costs half a second to import

        await upgrade(db)
    bus = make_bus(
        settings.bus_url,
        max_deliveries=settings.bus_max_deliveries,
        prefetch=settings.bus_prefetch,
    )
    await bus.start()
    relay = OutboxRelay(db, bus, retention=timedelta(days=settings.outbox_retention_days))
    relay_task = asyncio.create_task(relay.run(), name="outbox-relay")
    try:
        yield Platform(settings, db, bus, box, relay)
    finally:
        relay_task.cancel()
        await asyncio.gather(relay_task, return_exceptions=True)
        await bus.close()
        await db.close()
