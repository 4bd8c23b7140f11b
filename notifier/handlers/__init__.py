"""The bot's aiogram routers: thin handlers that call ``notifier.alert_actions`` and
``notifier.subscriptions``."""

from __future__ import annotations

from aiogram import Router

from notifier.handlers import chats, commands, presses, replies, settings


def bot_router() -> Router:
    router = Router(name="notifier")
    # replies before commands: a reply to an alert is an answer, whatever its text
    router.include_routers(
        presses.router(), settings.router(), replies.router(), commands.router(), chats.router()
    )
    return router
