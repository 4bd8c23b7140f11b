"""The port to Telegram for user accounts. Adapters: Telethon (real) and the sandbox (demo, tests).

Adapters translate their own library's errors into the ``TelegramError`` family below, so the worker
decides what to do (wait, reschedule, mark the account) without knowing which Telegram it talks to.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Literal, Protocol

from pydantic import BaseModel, field_validator, model_validator

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


class ReplyNotFound(TelegramError):
    """The message to reply to is not in that chat (never was, or was deleted):
    Telegram's ``REPLY_MESSAGE_ID_INVALID``. Nothing was sent."""


class AttachmentMissing(TelegramError):
    """The attachment names a file the media directory does not hold. Nothing was sent."""


TEXT_LIMIT = 4096  # characters of a message's text
CAPTION_LIMIT = 1024  # characters of a photo's caption
STICKER_SUFFIXES = (".webp", ".tgs")  # a static and an animated sticker
# A bare file name: resolved inside the media directory, so no separators and no leading dot.
_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$")


class Attachment(BaseModel):
    """A photo or a sticker to send with a message.

    ``ref`` is an ``https://`` URL (Telegram fetches it) or a bare file name in the media
    directory (``COOLTHING_MEDIA_DIR``). A sticker is a ``.webp`` (static) or ``.tgs`` (animated)
    file and carries no caption.
    """

    kind: Literal["photo", "sticker"]
    ref: str

    @field_validator("ref")
    @classmethod
    def _url_or_file_name(cls, ref: str) -> str:
        if ref.startswith("https://") and len(ref) > len("https://") and " " not in ref:
            return ref
        if _FILE_NAME.match(ref) and ".." not in ref:
            return ref
        raise ValueError("ref: an https:// URL or a bare file name (no folders)")

    @model_validator(mode="after")
    def _sticker_format(self) -> Attachment:
        path = self.ref.split("?", 1)[0].lower()
        if self.kind == "sticker" and not path.endswith(STICKER_SUFFIXES):
            raise ValueError("a sticker is a .webp or .tgs file")
        return self

    @property
    def is_url(self) -> bool:
        return self.ref.startswith("https://")


def check_outgoing(text: str, attachment: Attachment | None) -> None:
    """Refuse, before any request, what Telegram would refuse: an empty message, a text or
    caption over its limit, a caption on a sticker. Raises ``ValueError`` (a caller's bug)."""
    if attachment is None:
        if not text.strip():
            raise ValueError("a message needs a text or an attachment")
        if len(text) > TEXT_LIMIT:
            raise ValueError(f"a message's text is at most {TEXT_LIMIT} characters")
        return
    if attachment.kind == "sticker" and text:
        raise ValueError("a sticker carries no caption")
    if len(text) > CAPTION_LIMIT:
        raise ValueError(f"a caption is at most {CAPTION_LIMIT} characters")


class ChatInfo(BaseModel):
    chat_id: int
    ref: str
    title: str | None = None


class IncomingMessage(BaseModel):
    """A new message in a chat the account is in, or a DM to it.

    ``text`` is the message's text, or a photo's caption; it is "" for a sticker or for media
    without a caption (as Telethon's ``message.message``). Such captionless media in a group is
    not delivered by either adapter (nothing to match, nobody to answer), in a DM it is.
    """

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
    reply_to_message_id: int | None = None  # the message of the same chat this one quotes

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
            reply_to_message_id=self.reply_to_message_id,
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

    async def send_message(
        self,
        peer: int | str,
        text: str,
        *,
        reply_to: int | None = None,
        attachment: Attachment | None = None,
    ) -> SentMessage:
        """Send ``text`` to a user or a chat (its id, negative for a chat, or @ref), quoting
        message ``reply_to`` of that chat; with an ``attachment`` the text is its caption ("" for
        none). Raises ``ReplyNotFound``, ``AttachmentMissing``, and ``ValueError`` for what
        ``check_outgoing`` refuses."""

    async def send_typing(self, peer: int | str) -> None: ...

    async def recent_outgoing(self, peer: int | str, limit: int = 20) -> list[OutgoingMessage]:
        """What this account itself sent to ``peer`` lately, newest first (at most ``limit``
        of the dialog's latest messages are looked at)."""
