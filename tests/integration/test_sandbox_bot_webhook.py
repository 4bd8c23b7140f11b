"""Webhook mode against the sandbox: aiogram's own webhook handler receives the updates the
sandbox posts, with the secret token, and polling is refused meanwhile, as by Telegram."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, Router
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from sandbox.bootstrap import RunningSandbox
from tests.integration.sandbox_bots import aiogram_bot, call

OPERATOR = 777_003
SECRET = "s3cret_token-1"


@pytest.fixture
async def admin(sandbox: RunningSandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sandbox.url) as session:
        yield session


@pytest.fixture
async def registered(admin: aiohttp.ClientSession) -> dict[str, Any]:
    made = await call(admin, "POST", "/_sandbox/bots", username="hook_bot", first_name="Hook")
    return dict(made)


@pytest.fixture
async def bot(sandbox: RunningSandbox, registered: dict[str, Any]) -> AsyncIterator[Bot]:
    client = aiogram_bot(sandbox, registered["token"])
    yield client
    await client.delete_webhook()
    await client.session.close()


class Receiver:
    """The bot's side: aiogram's SimpleRequestHandler on a free port, noting the texts."""

    def __init__(self, bot: Bot, secret: str) -> None:
        self.texts: list[str] = []
        self.arrived = asyncio.Event()
        router = Router()

        @router.message()
        async def on_message(message: Message) -> None:
            self.texts.append(message.text or "")
            self.arrived.set()

        dispatcher = Dispatcher()
        dispatcher.include_router(router)
        self.app = web.Application()
        SimpleRequestHandler(dispatcher, bot, secret_token=secret).register(self.app, path="/tg")
        self.runner = web.AppRunner(self.app)

    async def start(self) -> str:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{self.runner.addresses[0][1]}/tg"

    async def stop(self) -> None:
        await self.runner.cleanup()


@pytest.fixture
async def receiver(bot: Bot) -> AsyncIterator[Receiver]:
    hooked = Receiver(bot, SECRET)
    yield hooked
    await hooked.stop()


async def user_writes(admin: aiohttp.ClientSession, bot_id: int, text: str) -> None:
    body = {"user_id": OPERATOR, "first_name": "Olga", "text": text}
    await call(admin, "POST", f"/_sandbox/bots/{bot_id}/messages", **body)


async def test_updates_are_posted_to_the_webhook_and_polling_is_refused_meanwhile(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any], receiver: Receiver
) -> None:
    url = await receiver.start()
    assert await bot.set_webhook(url, secret_token=SECRET, allowed_updates=["message"])

    await user_writes(admin, registered["id"], "/start")
    await asyncio.wait_for(receiver.arrived.wait(), 5)

    assert receiver.texts == ["/start"]
    info = await bot.get_webhook_info()
    assert info.url == url and info.pending_update_count == 0 and info.last_error_date is None
    assert info.allowed_updates == ["message"]
    with pytest.raises(TelegramConflictError, match="while webhook is active"):
        await bot.get_updates(timeout=0)


async def test_a_webhook_that_refuses_keeps_the_update_and_reports_the_error(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    wrong = Receiver(bot, "another-secret")  # aiogram answers 401 to the sandbox's token
    url = await wrong.start()
    try:
        await bot.set_webhook(url, secret_token=SECRET)
        await user_writes(admin, registered["id"], "hello")
        for _ in range(50):
            info = await bot.get_webhook_info()
            if info.last_error_message:
                break
            await asyncio.sleep(0.1)
    finally:
        await wrong.stop()

    assert info.last_error_message == "Wrong response from the webhook: 401 Unauthorized"
    assert info.pending_update_count == 1 and wrong.texts == []
    assert await bot.delete_webhook()
    [update] = await bot.get_updates(timeout=0)  # kept for whoever reads next
    assert update.message is not None and update.message.text == "hello"


async def test_a_later_webhook_gets_what_waited_and_delete_webhook_brings_polling_back(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any], receiver: Receiver
) -> None:
    await user_writes(admin, registered["id"], "written before")
    url = await receiver.start()

    await bot.set_webhook(url, secret_token=SECRET)
    await asyncio.wait_for(receiver.arrived.wait(), 5)
    assert receiver.texts == ["written before"]

    assert await bot.delete_webhook()
    await user_writes(admin, registered["id"], "polled")
    updates = await bot.get_updates(timeout=1)
    assert [u.message.text for u in updates if u.message] == ["polled"]


@pytest.mark.parametrize(
    ("url", "secret", "reason"),
    [
        ("ftp://example.com/hook", None, "invalid webhook URL specified"),
        ("http://127.0.0.1:9/x", "bad token!", "unallowed characters"),
        ("http://127.0.0.1:9/x", "x" * 257, "secret token is too long"),
    ],
)
async def test_a_bad_webhook_is_refused(
    bot: Bot, url: str, secret: str | None, reason: str
) -> None:
    with pytest.raises(TelegramBadRequest, match=reason):
        await bot.set_webhook(url, secret_token=secret)
