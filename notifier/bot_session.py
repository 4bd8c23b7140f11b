"""The bot's own answers (to a command, a press, a reply) wait out Telegram's 429 instead of
failing: a person pressing buttons quickly in one chat hits the same 1-message-a-second limit as
alerts do. The courier's Bot has no such wait: it reschedules instead of sleeping."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram.client.bot import Bot
    from aiogram.methods import Response, TelegramMethod

ATTEMPTS = 3
LONGEST_WAIT = 30  # seconds; a longer flood wait fails the answer rather than hold a handler


class WaitOutRetryAfter(BaseRequestMiddleware):
    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt == ATTEMPTS or exc.retry_after > LONGEST_WAIT:
                    raise
                await asyncio.sleep(exc.retry_after)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
