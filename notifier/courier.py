"""Sends and edits alert messages, within Telegram's limits, and never loses one.

A message due now is claimed in one transaction (``pending`` → ``sending``, or a sent one's
``dirty`` flag cleared), rendered from its alerts, handed to Telegram, and its message id stored
in a second transaction. Only a crash between Telegram's answer and that commit leaves a row in
``sending``: after a restart it goes again marked "sent again after a restart; it may be a
repeat" (the Bot API cannot tell whether it arrived). 429s close the chat for ``retry_after``
and the message waits; network errors and 5xx back off and retry; nothing is dropped.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardMarkup, LinkPreviewOptions
from prometheus_client import Counter
from sqlalchemy import ColumnElement, func, or_, select, update

from core.db import Database
from core.db.notifier_models import AlertMessage, AlertRecipient
from core.events import as_utc
from core.waiting import wait_at_most
from notifier import telegram_html
from notifier.message_views import load_view
from notifier.rate_limits import BotLimiter
from notifier.rendering import Rendered, render

log = logging.getLogger(__name__)
SENT = Counter(
    "coolthing_notifier_calls_total", "Bot API calls made for alerts", ["method", "result"]
)
MAX_IN_FLIGHT = 8
MAX_ATTEMPTS = 8  # for requests Telegram refused (400); outages and 429s are retried forever
IDLE_POLL = 5.0  # seconds between looks at the table when nothing woke the courier
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


@dataclass
class _Claim:
    message: AlertMessage
    new: bool


def _due() -> ColumnElement[bool]:
    return or_(
        AlertMessage.state == "pending",
        (AlertMessage.state == "sent") & AlertMessage.dirty.is_(True),
    )


class Courier:
    def __init__(
        self,
        db: Database,
        bot: Bot,
        *,
        limiter: BotLimiter | None = None,
        panel_url: str,
        request_timeout: int = 10,
    ) -> None:
        self._db = db
        self._bot = bot
        self._limiter = limiter or BotLimiter()
        self._panel_url = panel_url
        self._timeout = request_timeout
        self._wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}  # by chat: one call per chat

    def poke(self) -> None:
        self._wake.set()

    async def recover(self) -> int:
        """Messages a crash left in ``sending`` go again, marked as a possible repeat."""
        async with self._db.transaction() as session:
            result = await session.execute(
                update(AlertMessage)
                .where(AlertMessage.state == "sending")
                .values(state="pending", resent=True, due_at=datetime.now(UTC))
                .returning(AlertMessage.id)
            )
            return len(result.all())

    async def run(self) -> None:
        await self.recover()
        try:
            while True:
                pause = await self._round()
                self._wake.clear()
                await wait_at_most(self._wake.wait(), pause)
        finally:
            for task in self._in_flight.values():
                task.cancel()
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    async def _round(self) -> float:
        """Start what is due and allowed; return how long to sleep before looking again."""
        now = datetime.now(UTC)
        async with self._db.session() as session:
            due = (
                await session.execute(
                    select(AlertMessage.id, AlertMessage.chat_id, AlertMessage.state)
                    .where(_due(), AlertMessage.due_at <= now)
                    .order_by(AlertMessage.due_at, AlertMessage.id)
                    .limit(500)
                )
            ).all()
            later: datetime | None = await session.scalar(
                select(func.min(AlertMessage.due_at)).where(_due(), AlertMessage.due_at > now)
            )
        pause = IDLE_POLL
        if later is not None:
            pause = min(pause, max((as_utc(later) - now).total_seconds(), 0.05))
        for message_id, chat_id, state in due:
            if len(self._in_flight) >= MAX_IN_FLIGHT:
                return min(pause, 0.05)  # look again as soon as a call ends
            if chat_id in self._in_flight:
                continue
            wait = self._limiter.wait(chat_id, new_message=state == "pending")
            if wait > 0:
                pause = min(pause, wait)
                continue
            self._limiter.take(chat_id, new_message=state == "pending")
            task = asyncio.create_task(self._deliver(message_id), name=f"alert-{message_id}")
            self._in_flight[chat_id] = task
            task.add_done_callback(functools.partial(self._done, chat_id))
        return pause

    def _done(self, chat_id: int, _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(chat_id, None)
        self._wake.set()

    async def _claim(self, message_id: int) -> tuple[_Claim, Rendered] | None:
        async with self._db.transaction() as session:
            message = await session.get(AlertMessage, message_id, with_for_update=True)
            if message is None:
                return None
            if message.state == "pending":
                claim = _Claim(message, new=True)
                message.state = "sending"
            elif message.state == "sent" and message.dirty:
                claim = _Claim(message, new=False)
            else:
                return None  # someone else's round got it
            message.dirty = False
            view = await load_view(session, message, panel_url=self._panel_url)
            if view is None:  # nothing left to say (all its alerts were deleted)
                message.state = "cancelled"
                return None
            alerts, context = view
            return claim, render(alerts, context)

    async def _deliver(self, message_id: int) -> None:
        try:
            claimed = await self._claim(message_id)
            if claimed is not None:
                await self._call(*claimed)
        except Exception:  # one message's bug must not stop the others
            log.exception("alert message %s could not be delivered", message_id)
            await self._retry(message_id, new=None, error="internal error", delay=30.0)

    async def _call(self, claim: _Claim, rendered: Rendered, *, plain: bool = False) -> None:
        message = claim.message
        text = telegram_html.plain(rendered.html) if plain else rendered.html
        mode = None if plain else "HTML"
        method = "sendMessage" if claim.new else "editMessageText"
        try:
            if claim.new:
                sent = await self._bot.send_message(
                    message.chat_id,
                    text,
                    parse_mode=mode,
                    reply_markup=rendered.markup,
                    disable_notification=rendered.silent,
                    link_preview_options=NO_PREVIEW,
                    request_timeout=self._timeout,
                )
                await self._sent(message.id, sent.message_id)
            else:
                await self._bot.edit_message_text(
                    text,
                    chat_id=message.chat_id,
                    message_id=message.telegram_message_id,
                    parse_mode=mode,
                    reply_markup=rendered.markup,
                    link_preview_options=NO_PREVIEW,
                    request_timeout=self._timeout,
                )
                await self._edited(message.id)
            SENT.labels(method, "ok").inc()
        except TelegramRetryAfter as exc:
            SENT.labels(method, "429").inc()
            self._limiter.close(message.chat_id, exc.retry_after)
            await self._retry(message.id, new=claim.new, error="429", delay=exc.retry_after)
        except TelegramMigrateToChat as exc:
            await self._moved(message.chat_id, exc.migrate_to_chat_id)
            await self._retry(message.id, new=claim.new, error="group moved", delay=0)
        except TelegramForbiddenError as exc:
            SENT.labels(method, "403").inc()
            await self._stop_recipient(message.recipient_id, exc.message)
        except TelegramBadRequest as exc:
            SENT.labels(method, "400").inc()
            await self._bad_request(claim, rendered, exc, plain=plain)
        except (TelegramNetworkError, TelegramServerError, TimeoutError) as exc:
            SENT.labels(method, "error").inc()
            # A send that timed out may have arrived: if it goes again, it says so.
            ambiguous = claim.new and not isinstance(exc, TelegramServerError)
            await self._retry(
                message.id, new=claim.new, error=str(exc)[:200], backoff=True, resent=ambiguous
            )

    async def _bad_request(
        self, claim: _Claim, rendered: Rendered, exc: TelegramBadRequest, *, plain: bool
    ) -> None:
        said = exc.message.lower()
        if "not modified" in said:
            await self._edited(claim.message.id)
        elif not claim.new and ("not found" in said or "can't be edited" in said):
            # The message is gone (deleted in the chat): the alert goes out as a new one.
            await self._retry(claim.message.id, new=True, error=exc.message, delay=0, fresh=True)
        elif "button_url_invalid" in said or "wrong http url" in said:
            # Telegram refuses a button to an address it cannot check (a panel on localhost):
            # the alert goes without its "Open in panel" button rather than not at all.
            log.warning(
                "Telegram refused the panel link %s; set COOLTHING_PANEL_URL", self._panel_url
            )
            await self._call(claim, _without_links(rendered), plain=plain)
        elif "can't parse entities" in said and not plain:
            log.error("Telegram refused our HTML for alert message %s", claim.message.id)
            await self._call(claim, rendered, plain=True)
        else:
            # Telegram refused this very request: a few more tries (a chat restored, a transient
            # state), then it stays in the log as failed instead of retrying forever.
            await self._retry(
                claim.message.id, new=claim.new, error=exc.message, backoff=True, give_up=True
            )

    async def _sent(self, message_id: int, telegram_message_id: int) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(AlertMessage)
                .where(AlertMessage.id == message_id)
                .values(
                    state="sent",
                    telegram_message_id=telegram_message_id,
                    sent_at=datetime.now(UTC),
                    attempts=0,
                    last_error=None,
                )
            )

    async def _edited(self, message_id: int) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(AlertMessage)
                .where(AlertMessage.id == message_id)
                .values(edited_at=datetime.now(UTC), attempts=0, last_error=None)
            )

    async def _retry(
        self,
        message_id: int,
        *,
        new: bool | None,
        error: str,
        delay: float = 0.0,
        backoff: bool = False,
        resent: bool = False,
        fresh: bool = False,
        give_up: bool = False,
    ) -> None:
        """Put the message back as due later: a send stays pending, an edit stays dirty."""
        async with self._db.transaction() as session:
            message = await session.get(AlertMessage, message_id, with_for_update=True)
            if message is None:
                return
            message.attempts += 1
            message.last_error = error[:300]
            if backoff:
                delay = max(delay, min(2.0**message.attempts, 300.0))
            message.due_at = datetime.now(UTC) + timedelta(seconds=delay)
            if fresh:
                message.telegram_message_id = None
            if new or fresh or message.state == "sending":
                # After an unexpected error mid-send nobody knows whether it arrived.
                unknown = new is None and message.state == "sending"
                message.state = "pending"
                message.resent = message.resent or resent or unknown
            else:
                message.dirty = True
            if give_up and message.attempts >= MAX_ATTEMPTS:
                message.state = "failed"  # kept in the log with its error; not retried
        self._wake.set()

    async def _stop_recipient(self, recipient_id: int, why: str) -> None:
        """The bot was blocked or removed from the chat: stop writing there until they return."""
        async with self._db.transaction() as session:
            await session.execute(
                update(AlertRecipient)
                .where(AlertRecipient.id == recipient_id)
                .values(active=False, stopped_reason=why[:160])
            )
            await session.execute(
                update(AlertMessage)
                .where(
                    AlertMessage.recipient_id == recipient_id,
                    AlertMessage.state.in_(("pending", "sending")),
                )
                .values(state="failed", last_error=why[:300])
            )

    async def _moved(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup with a new id: its recipient and messages follow."""
        async with self._db.transaction() as session:
            await session.execute(
                update(AlertRecipient)
                .where(AlertRecipient.chat_id == old_chat_id)
                .values(chat_id=new_chat_id)
            )
            await session.execute(
                update(AlertMessage)
                .where(AlertMessage.chat_id == old_chat_id, AlertMessage.state != "sent")
                .values(chat_id=new_chat_id)
            )


def _without_links(rendered: Rendered) -> Rendered:
    markup = rendered.markup
    if markup is None:
        return rendered
    rows = [[b for b in row if b.url is None] for row in markup.inline_keyboard]
    kept = [row for row in rows if row]
    new = InlineKeyboardMarkup(inline_keyboard=kept) if kept else None
    return Rendered(rendered.html, new, rendered.silent)
