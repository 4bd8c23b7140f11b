"""The bot was blocked, removed from a group, or let back in."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import ChatMemberUpdated

from core.db import Database
from notifier import subscriptions

GONE = ("kicked", "left")


async def membership(update: ChatMemberUpdated, db: Database) -> None:
    if update.new_chat_member.status in GONE:
        async with db.transaction() as session:
            why = "blocked the bot" if update.chat.type == "private" else "removed the bot"
            await subscriptions.stop_chat(session, update.chat.id, why)


def router() -> Router:
    """A fresh router: aiogram attaches a router to one parent only."""
    router = Router(name="chats")
    router.my_chat_member.register(membership)
    return router
