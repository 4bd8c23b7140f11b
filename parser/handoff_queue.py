"""Make sure leads meant for outreach have a queue before the manager first runs.

The parser publishes ``lead.found`` for every campaign. When a campaign has manager accounts, its
leads must reach the manager even if the manager has never started yet (a fresh broker, services
starting in any order), so the parser declares the manager's durable queue itself. A parser-only
setup declares nothing, so no queue fills up with leads nobody will read.
"""

from __future__ import annotations

from sqlalchemy import select

from core.bus import Bus
from core.db import Database
from core.db.models import CampaignAccount
from core.events import LeadFound
from core.topology import MANAGER_LEADS


class OutreachQueue:
    def __init__(self, db: Database, bus: Bus) -> None:
        self._db = db
        self._bus = bus
        self._declared = False

    async def ensure(self) -> bool:
        """Declare ``manager.leads`` once some campaign has a manager account; True if it exists."""
        if self._declared:
            return True
        async with self._db.session() as session:
            wanted = await session.scalar(
                select(CampaignAccount.account_id).where(CampaignAccount.role == "manager").limit(1)
            )
        if wanted is not None:
            await self._bus.declare(MANAGER_LEADS, [LeadFound.NAME])
            self._declared = True
        return self._declared
