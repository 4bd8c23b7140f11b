"""A reply to one of the bot's messages: a new text for a draft, or an answer to a lead."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import Message

from notifier.alert_actions import AlertActions


async def replied(message: Message, actions: AlertActions) -> None:
    replied_to = message.reply_to_message
    if replied_to is None or message.from_user is None or message.text is None:
        return
    if (
        message.bot is not None
        and replied_to.from_user
        and replied_to.from_user.id != message.bot.id
    ):
        return  # a reply to another bot in a group
    answer = await actions.reply(
        telegram_user_id=message.from_user.id,
        chat_id=message.chat.id,
        replied_to=replied_to.message_id,
        text=message.text,
    )
    if answer is not None:
        await message.reply(answer)


def router() -> Router:
    """A fresh router: aiogram attaches a router to one parent only."""
    router = Router(name="replies")
    router.message.register(replied, F.reply_to_message.from_user.is_bot, F.text)
    return router
