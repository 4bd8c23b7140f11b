"""Helpers for tests of the sandbox's Bot API: the test endpoints over HTTP, a bot a person has
started, and the real aiogram Bot talking to the sandbox as the notifier does."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import MessageEntity

from sandbox.bootstrap import RunningSandbox
from sandbox.limits import BotLimitsConfig, LimitsConfig


async def call(http: aiohttp.ClientSession, verb: str, where: str, **body: Any) -> Any:
    """A test endpoint that must succeed; its JSON answer."""
    async with http.request(verb, where, json=body or None) as response:
        data = await response.json()
        assert data["ok"], data
        return data


async def started_bot(http: aiohttp.ClientSession, username: str, person: int) -> dict[str, Any]:
    """A registered bot that ``person`` (Olga) has sent /start, as Telegram requires before a bot
    may write to someone; the registration answer (id, token, username)."""
    made = await call(http, "POST", "/_sandbox/bots", username=username, first_name="Alerts")
    body = {"user_id": person, "first_name": "Olga", "text": "/start"}
    await call(http, "POST", f"/_sandbox/bots/{made['id']}/messages", **body)
    return dict(made)


def bot_path(registered: dict[str, Any], tail: str = "") -> str:
    return f"/_sandbox/bots/{registered['id']}{tail}"


def aiogram_bot(sandbox: RunningSandbox, token: str) -> Bot:
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(sandbox.url)))


def relax_limits(sandbox: RunningSandbox) -> None:
    """Flood limits out of the way, for tests about something else."""
    sandbox.world.set_limits(LimitsConfig(bot=BotLimitsConfig(per_chat_burst=1000)))


def dumped(entities: list[MessageEntity] | None) -> list[dict[str, Any]]:
    """Entities as plain dicts (aiogram's models compare unequal once bound to a bot)."""
    return [e.model_dump(exclude_none=True) for e in entities or []]
