"""Wire the notifier: the bot (polling, or a webhook), the intake of events, the courier, the
clock-driven checks."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import BotCommand

from core.events import ConfigChanged, TelegramUnlink
from core.platform import Platform
from core.settings import Settings
from core.topology import NOTIFIER_CONTROL, NOTIFIER_EVENTS
from notifier.alert_actions import AlertActions
from notifier.bot_session import WaitOutRetryAfter
from notifier.courier import Courier
from notifier.handlers import bot_router
from notifier.housekeeping import Housekeeping
from notifier.intake import EVENT_NAMES, Intake
from notifier.rate_limits import BotLimiter, Limits
from notifier.texts import LANGUAGES, N_, Texts

log = logging.getLogger(__name__)
UPDATES = ["message", "callback_query", "my_chat_member"]
COMMANDS = [
    BotCommand(command="settings", description=N_("What you get here, quiet hours, language")),
    BotCommand(command="help", description=N_("What this bot does")),
    BotCommand(command="subscribe", description=N_("Send alerts to this group")),
    BotCommand(command="unsubscribe", description=N_("Stop alerts in this chat")),
    BotCommand(command="unlink", description=N_("Forget your Telegram account")),
]


class NotifierNotConfigured(RuntimeError):
    """No bot token: the notifier has nothing to talk through."""


def make_bot(settings: Settings) -> Bot:
    token = settings.notifier_bot_token
    if token is None:
        raise NotifierNotConfigured(
            "COOLTHING_NOTIFIER_BOT_TOKEN is not set: create a bot with @BotFather and set it"
        )
    server = TelegramAPIServer.from_base(settings.notifier_api_url.rstrip("/"))
    return Bot(token.get_secret_value(), session=AiohttpSession(api=server))


@dataclass
class RunningNotifier:
    bot: Bot
    courier: Courier
    intake: Intake
    answering: Bot  # the dispatcher's: waits out a 429 on its answers
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.bot.session.close()
        await self.answering.session.close()


async def start_notifier(
    platform: Platform, *, bot: Bot | None = None, limits: Limits | None = None
) -> RunningNotifier:
    """Start sending before taking events in, so a backlog starts moving at once."""
    settings = platform.settings
    bot = bot or make_bot(settings)
    answering = make_bot(settings)  # its own session: it waits out a 429, the courier's does not
    answering.session.middleware(WaitOutRetryAfter())
    courier = Courier(
        platform.db,
        bot,
        limiter=BotLimiter(limits or Limits()),
        panel_url=settings.panel_url,
    )
    intake = Intake(
        platform.db,
        repeat=timedelta(hours=settings.alert_repeat_hours),
        group_window=timedelta(seconds=settings.alert_group_seconds),
        wake=courier.poke,
    )
    actions = AlertActions(platform.db, platform.bus, wake=courier.poke)
    housekeeping = Housekeeping(
        platform.db,
        intake,
        wake=courier.poke,
        retention=timedelta(days=settings.alert_retention_days),
    )
    running = RunningNotifier(bot, courier, intake, answering)
    running.tasks.append(asyncio.create_task(courier.run(), name="notifier-courier"))
    running.tasks.append(asyncio.create_task(housekeeping.run(), name="notifier-housekeeping"))
    await platform.bus.subscribe(NOTIFIER_EVENTS, EVENT_NAMES, intake.on_event)
    await platform.bus.subscribe(
        NOTIFIER_CONTROL, [ConfigChanged.NAME, TelegramUnlink.NAME], housekeeping.on_control
    )
    dispatcher = Dispatcher()
    dispatcher.include_router(bot_router())
    dispatcher["actions"] = actions
    dispatcher["db"] = platform.db
    dispatcher["box"] = platform.box
    running.tasks.append(
        asyncio.create_task(_receive(dispatcher, answering, settings), name="notifier-bot")
    )
    return running


async def _receive(dispatcher: Dispatcher, bot: Bot, settings: Settings) -> None:
    """Long polling by default; with COOLTHING_NOTIFIER_WEBHOOK_URL, Telegram calls us."""
    try:
        for language in LANGUAGES:  # the menu in each user's language, English the default
            texts = Texts(language)
            menu = [
                BotCommand(command=c.command, description=texts(c.description)) for c in COMMANDS
            ]
            await bot.set_my_commands(menu, language_code=None if language == "en" else language)
    except Exception as exc:  # the menu is a convenience: never a reason not to run
        log.warning("could not set the bot's command menu: %s", exc)
    if settings.notifier_webhook_url:
        from notifier.webhook import serve_webhook

        await serve_webhook(dispatcher, bot, settings, UPDATES)
        return
    await bot.delete_webhook(drop_pending_updates=False)
    await dispatcher.start_polling(
        bot, handle_signals=False, close_bot_session=False, allowed_updates=UPDATES
    )
