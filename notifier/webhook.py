"""Webhook mode: Telegram (or a self-hosted Bot API server) calls us instead of being polled.

The secret token Telegram echoes in ``X-Telegram-Bot-Api-Secret-Token`` is checked on every
call, so nobody else can post updates to the endpoint.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from core.settings import Settings


async def serve_webhook(
    dispatcher: Dispatcher, bot: Bot, settings: Settings, updates: list[str]
) -> None:
    url = settings.notifier_webhook_url or ""
    secret = settings.notifier_webhook_secret
    if secret is None:
        raise RuntimeError("COOLTHING_NOTIFIER_WEBHOOK_SECRET is required with a webhook URL")
    app = web.Application()
    path = urlsplit(url).path or "/"
    SimpleRequestHandler(dispatcher, bot, secret_token=secret.get_secret_value()).register(
        app, path=path
    )
    setup_application(app, dispatcher, bot=bot)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, settings.api_host, settings.notifier_webhook_port)
    await site.start()
    await bot.set_webhook(url, secret_token=secret.get_secret_value(), allowed_updates=updates)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
