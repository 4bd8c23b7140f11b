"""A press on an alert's button."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, InaccessibleMessage

from notifier.alert_actions import AlertActions
from notifier.buttons import AlertPress
from notifier.texts import N_, Texts, language_of


async def pressed(query: CallbackQuery, callback_data: AlertPress, actions: AlertActions) -> None:
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        texts = Texts(language_of(query.from_user.language_code))
        await query.answer(texts(N_("This message is too old to act on.")), show_alert=True)
        return
    answer = await actions.press(
        callback_data,
        telegram_user_id=query.from_user.id,
        chat_id=message.chat.id,
        message_id=message.message_id,
    )
    await query.answer(answer.text[:200], show_alert=answer.alert)


def router() -> Router:
    """A fresh router: aiogram attaches a router to one parent only."""
    router = Router(name="presses")
    router.callback_query.register(pressed, AlertPress.filter())
    return router
