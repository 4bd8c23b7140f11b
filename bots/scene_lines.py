"""How a scene's line goes out, beside a DM: into a group, after "typing…" for the line's typing
time, quoting the message it answers and carrying its photo or sticker. ``bots.sender`` keeps the
idempotency, FloodWait and failure handling for both."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from core.events import SendMessage
from core.telegram import (
    AccountClient,
    Attachment,
    ChatNotFound,
    ReplyNotFound,
    SentMessage,
    TelegramError,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
TYPING_REFRESH = 4.5  # seconds: Telegram shows "typing…" for about 5 s per call


@dataclass
class Attempts:
    """What the tries of one delivery learnt so far."""

    unclear: bool  # an earlier try may have reached Telegram: search the dialog before sending
    typed: bool = False  # a scene line's "typing…" was shown (once, not again on a retry)
    quote: bool = True  # a scene line quotes its message (dropped when that one is gone)


async def to_peer(command: SendMessage, call: Callable[[int | str], Awaitable[T]]) -> T:
    """By id first (it cannot be reassigned); by username when the account has never seen
    the user's id (Telethon needs an access hash that only a resolved username brings).
    A scene's chat likewise: its id when known, else its reference."""
    if (scene := command.scene) is not None:
        if scene.chat_id is None:
            return await call(scene.chat_ref)
        try:
            return await call(scene.chat_id)
        except ChatNotFound:
            return await call(scene.chat_ref)
    try:
        return await call(command.peer_user_id)
    except ChatNotFound:
        if not command.peer_username:
            raise
        return await call(command.peer_username)


async def send_scene_line(
    client: AccountClient, command: SendMessage, attempts: Attempts
) -> SentMessage:
    scene = command.scene
    assert scene is not None  # noqa: S101 - scene lines only
    attachment = None
    if scene.attachment_kind is not None and scene.attachment_ref is not None:
        attachment = Attachment(kind=scene.attachment_kind, ref=scene.attachment_ref)
    reply_to = scene.reply_to if attempts.quote else None
    try:
        return await to_peer(
            command,
            lambda peer: client.send_message(
                peer, command.text, reply_to=reply_to, attachment=attachment
            ),
        )
    except ReplyNotFound:
        if reply_to is None:
            raise
        # The quoted message was deleted meanwhile: the line still belongs in the scene.
        log.info("send %s: quoted message is gone; sent unquoted", command.idempotency_key)
        attempts.quote = False
        return await send_scene_line(client, command, attempts)


async def show_typing(client: AccountClient, command: SendMessage) -> None:
    """Show "typing…" for the line's typing time, as a person would before writing it.
    Typing is decoration: a failure to show it never stops the line."""
    assert command.scene is not None  # noqa: S101 - scene lines only
    left = command.scene.typing_seconds
    while left > 0:
        try:
            await to_peer(command, client.send_typing)
        except TelegramError as exc:
            log.info("typing for %s not shown: %s", command.idempotency_key, type(exc).__name__)
        step = min(left, TYPING_REFRESH)
        await asyncio.sleep(step)
        left -= step
