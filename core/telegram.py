"""The port to Telegram for user accounts. Adapters: Telethon (real) and the sandbox (demo, tests).

Adapters translate their own library's errors into the ``TelegramError`` family below, so the worker
decides what to do (wait, reschedule, mark the account) without knowing which Telegram it talks to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Protocol

from pydantic import BaseModel

from core.events import MessageIncoming, Profile


class TelegramError(Exception):
    """Base of everything an account client raises."""


class FloodWait(TelegramError):
    """Telegram asks the account to wait ``seconds`` before the same kind of request."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"flood wait of {seconds}s")
        self.seconds = seconds


class PeerFlood(TelegramError):
    """The account may not write to strangers for a while."""


class AccountBannedError(TelegramError):
    """The account is banned or deactivated."""


class SessionRevokedError(TelegramError):
    """The session was revoked, expired or its key unregistered: a new login is needed."""


class WriteForbidden(TelegramError):
    """This account may not write to this chat or user (privacy, ban in chat, blocked)."""


class ChatNotFound(TelegramError):
    """No such chat or user, or it is private / unknown to this account."""


class TelegramUnavailable(TelegramError, ConnectionError):
    """Telegram could not be reached; the call may be retried later (it did not take effect)."""


class ChatLimitReached(TelegramError):
    """The account is in 500 channels/supergroups (Telegram's cap) and cannot join another."""


class ChatInfo(BaseModel):
    chat_id: int
    ref: str
    title: str | None = None


class IncomingMessage(BaseModel):
    """A new message in a chat the account is in, or a DM to it."""

    chat_id: int
    chat_ref: str | None = None
    chat_title: str | None = None
    is_private: bool
    message_id: int
    text: str
    date_ts: float
    link: str | None = None
    sender: Profile
    cursor: str | None = None  # where to resume after this message; None when not resumable

    def as_event(self, *, account_id: int, chat_ref: str | None) -> MessageIncoming:
        """The ``message.incoming`` payload for what ``account_id`` heard here."""
        return MessageIncoming(
            account_id=account_id,
            chat_id=self.chat_id,
            chat_ref=chat_ref,
            chat_title=self.chat_title,
            is_private=self.is_private,
            message_id=self.message_id,
            text=self.text,
            date=datetime.fromtimestamp(self.date_ts, UTC),
            link=self.link,
            sender=self.sender,
        )


class SentMessage(BaseModel):
    chat_id: int
    message_id: int


class OutgoingMessage(BaseModel):
    """A message this account sent earlier (to tell whether a send already happened)."""

    message_id: int
    text: str
    date_ts: float


class AccountClient(Protocol):
    """What a bots worker needs from Telegram for one user account."""

    async def connect(self) -> Profile:
        """Log in with the stored session; returns the account's own profile."""

    async def disconnect(self) -> None: ...

    async def join_chat(self, ref: str) -> ChatInfo:
        """Join a public chat by @username / t.me link (a no-op when already a member)."""

    async def leave_chat(self, chat_id: int) -> None: ...

    def incoming(self) -> AsyncIterator[IncomingMessage]:
        """New messages in joined chats and DMs, in arrival order, until disconnected."""

    async def get_profile(self, user_id: int) -> Profile: ...

    async def send_message(self, peer: int | str, text: str) -> SentMessage: ...

    async def send_typing(self, peer: int | str) -> None: ...

    async def recent_outgoing(self, peer: int | str, limit: int = 20) -> list[OutgoingMessage]:
        """What this account itself sent to ``peer`` lately, newest first (at most ``limit``
        of the dialog's latest messages are looked at)."""
