"""Who is pressing: a Telegram user, their link to a panel user, and the role they act with.

In a group the person who pressed counts, never the chat: a viewer in an operators' group can
read the alerts but not approve them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import Actor, Role
from core.db.models import User
from core.db.notifier_models import TelegramLink


@dataclass(frozen=True)
class Person:
    user_id: int
    login: str
    role: Role
    language: str
    timezone: str

    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, login=self.login, role=self.role, channel="telegram")

    def may(self, needed: Role) -> bool:
        return self.role.allows(needed)


async def person_for(session: AsyncSession, telegram_user_id: int) -> Person | None:
    """The enabled panel user linked to this Telegram account, or None."""
    row = (
        await session.execute(
            select(User)
            .join(TelegramLink, TelegramLink.user_id == User.id)
            .where(TelegramLink.telegram_user_id == telegram_user_id)
        )
    ).scalar_one_or_none()
    if row is None or row.disabled_at is not None:
        return None
    return Person(row.id, row.login, Role(row.role), row.language, row.timezone)
