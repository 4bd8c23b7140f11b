"""Telethon's objects and errors in our terms: pure functions, tested on Telethon's own classes.

``map_error`` turns Telethon's exceptions into the port's ``TelegramError`` family; the others map
users, messages and chat references. Telethon is untyped: ``Any`` stays at this boundary.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from telethon import errors, types, utils

from core.events import Profile
from core.telegram import (
    AccountBannedError,
    Attachment,
    AttachmentMissing,
    ChatInfo,
    ChatLimitReached,
    ChatNotFound,
    FloodWait,
    IncomingMessage,
    PeerFlood,
    ReplyNotFound,
    SessionRevokedError,
    TelegramError,
    WriteForbidden,
)

# ---------------------------------------------------------------------------- errors

_WAITS = (
    errors.FloodWaitError,
    errors.FloodPremiumWaitError,
    errors.SlowModeWaitError,
    errors.FloodTestPhoneWaitError,
)
# Order matters: the frozen-account error is a FloodError subclass without ``seconds``.
_ERROR_TABLE: tuple[tuple[tuple[Any, ...], type[TelegramError]], ...] = (
    ((errors.FrozenMethodInvalidError, errors.FrozenParticipantMissingError), AccountBannedError),
    ((errors.PeerFloodError, errors.UserRestrictedError), PeerFlood),
    (
        (
            errors.UserDeactivatedBanError,
            errors.UserDeactivatedError,
            errors.PhoneNumberBannedError,
        ),
        AccountBannedError,
    ),
    (
        (
            errors.AuthKeyUnregisteredError,
            errors.SessionRevokedError,
            errors.SessionExpiredError,
            errors.AuthKeyDuplicatedError,
            errors.UnauthorizedError,  # any other 401 (e.g. 2FA password needed): log in again
        ),
        SessionRevokedError,
    ),
    (
        (
            errors.ChatWriteForbiddenError,
            errors.UserBannedInChannelError,
            errors.UserPrivacyRestrictedError,
            errors.UserIsBlockedError,
            errors.YouBlockedUserError,
            errors.ChatRestrictedError,
            errors.ChatAdminRequiredError,
            errors.ChatSendPlainForbiddenError,
            errors.ChatGuestSendForbiddenError,
            errors.InputUserDeactivatedError,
            errors.UserDeletedError,
        ),
        WriteForbidden,
    ),
    (
        (
            errors.UsernameNotOccupiedError,
            errors.UsernameInvalidError,
            errors.ChannelPrivateError,
            errors.ChannelInvalidError,
            errors.ChannelPublicGroupNaError,
            errors.PeerIdInvalidError,
            errors.InviteHashExpiredError,
            errors.InviteHashInvalidError,
            errors.InviteHashEmptyError,
            errors.InviteRequestSentError,  # needs an admin's approval: not a member, not now
        ),
        ChatNotFound,
    ),
    ((errors.ChannelsTooMuchError,), ChatLimitReached),
)


# Errors Telethon has no class for arrive as a bare RPCError carrying Telegram's code.
_BY_CODE: dict[str, type[TelegramError]] = {"REPLY_MESSAGE_ID_INVALID": ReplyNotFound}


def map_error(exc: Exception) -> TelegramError:
    """Translate a Telethon (or transport) error into the port's family.

    Anything unrecognised — including ``AuthKeyNotFound``, which Telethon itself calls possibly
    temporary — becomes a plain ``TelegramError``: an account is never marked dead on a guess.
    """
    if isinstance(exc, TelegramError):
        return exc
    if isinstance(exc, _WAITS):
        return FloodWait(max(int(exc.seconds), 1))
    for kinds, port_error in _ERROR_TABLE:
        if isinstance(exc, kinds):
            return port_error(str(exc))
    by_code = _BY_CODE.get(str(getattr(exc, "message", "")))
    if by_code is not None:
        return by_code(str(exc))
    return TelegramError(f"{type(exc).__name__}: {exc}")


TRANSLATED = (errors.RPCError, errors.AuthKeyNotFound, ConnectionError, TimeoutError)
FATAL = (AccountBannedError, SessionRevokedError)


# ---------------------------------------------------------------------------- media

_STICKER_MIME = {".webp": "image/webp", ".tgs": "application/x-tgsticker"}


def media_file(attachment: Attachment, media_dir: Path | None) -> str:
    """What ``send_file`` gets: the URL as is (Telegram fetches it), or the file's path in the
    media directory; a file that is not there is ``AttachmentMissing`` before any request."""
    if attachment.is_url:
        return attachment.ref
    if media_dir is None:
        raise AttachmentMissing(f"{attachment.ref!r}: no media directory is configured")
    path = media_dir / attachment.ref
    if not path.is_file():
        raise AttachmentMissing(f"no file {attachment.ref!r} in {media_dir}")
    return str(path)


def send_file_options(attachment: Attachment, text: str, reply_to: int | None) -> dict[str, Any]:
    """``send_file`` keywords: a photo with its caption; a sticker as a sticker document.

    Telethon uploads only .png/.jpg as photos; any other file becomes a plain document unless
    it says otherwise, so a sticker file carries ``DocumentAttributeSticker`` and its MIME type
    (Telethon's guess for .tgs is octet-stream) and Telegram shows it as a sticker.
    """
    options: dict[str, Any] = {"reply_to": reply_to, "force_document": False}
    if attachment.kind == "photo":
        options["caption"] = text or None
        return options
    suffix = Path(attachment.ref.split("?", 1)[0]).suffix.lower()
    if not attachment.is_url:
        sticker = types.DocumentAttributeSticker(alt="", stickerset=types.InputStickerSetEmpty())
        options["attributes"] = [sticker]
        options["mime_type"] = _STICKER_MIME.get(suffix)
    return options


# ---------------------------------------------------------------------------- mapping


def public_username(entity: Any) -> str | None:
    """The entity's public username; collectible usernames live only in ``usernames``."""
    name = getattr(entity, "username", None)
    if name:
        return str(name)
    for item in getattr(entity, "usernames", None) or ():
        if item.active:
            return str(item.username)
    return None


def profile_from_user(user: Any, about: str | None) -> Profile:
    return Profile(
        user_id=user.id,
        username=public_username(user),
        first_name=user.first_name or None,
        last_name=user.last_name or None,
        bio=about or None,
        is_bot=bool(user.bot),
    )


def skip_reason(message: Any, sender: Any) -> str | None:
    """Why a message is not delivered, or None.

    - A sender that is not a user (channel post, anonymous admin, "send as channel") has nobody
      to reach out to.
    - Media without a caption in a group has nothing to match; in a DM it is still delivered with
      text "" because it is the lead answering, which the conversation must know.
    """
    if not isinstance(sender, types.User):
        return "sender is not a user"
    if not message.message and not isinstance(message.peer_id, types.PeerUser):
        return "no text in a group message"
    return None


def incoming_from_message(
    message: Any, chat: Any, sender: Any, about: str | None
) -> IncomingMessage | None:
    """Map a Telethon message; None when ``skip_reason`` says it is not delivered.

    ``chat_id`` is Telethon's marked id (-100… channels, -… basic groups, user id for DMs), the
    same numbering as the Bot API. A reply carries the id it quotes (the quoted text is not
    fetched).
    """
    if skip_reason(message, sender) is not None:
        return None
    is_private = isinstance(message.peer_id, types.PeerUser)
    username = public_username(chat)
    return IncomingMessage(
        chat_id=utils.get_peer_id(message.peer_id),
        chat_ref=f"@{username}" if username else None,
        chat_title=_title(chat),
        is_private=is_private,
        message_id=message.id,
        text=message.message or "",
        date_ts=message.date.timestamp() if message.date else time.time(),
        link=f"https://t.me/{username}/{message.id}" if username and not is_private else None,
        sender=profile_from_user(sender, about),
        reply_to_message_id=replied_id(message),
    )


def replied_id(message: Any) -> int | None:
    """The id of the message of the same chat that ``message`` quotes, or None.

    A forum topic's plain message points at the topic's first message without being a reply
    (``forum_topic`` set, no ``reply_to_top_id``), and a quote of another chat
    (``reply_to_peer_id``) names a message the receiver cannot look up here: neither counts.
    """
    header = getattr(message, "reply_to", None)
    if not isinstance(header, types.MessageReplyHeader) or header.reply_to_msg_id is None:
        return None
    if header.reply_to_peer_id is not None:
        return None
    if header.forum_topic and header.reply_to_top_id is None:
        return None
    return int(header.reply_to_msg_id)


def _title(chat: Any) -> str | None:
    if isinstance(chat, types.User):
        return " ".join(part for part in (chat.first_name, chat.last_name) if part) or None
    title = getattr(chat, "title", None)
    return str(title) if title else None


def chat_info(entity: Any, ref: str) -> ChatInfo:
    return ChatInfo(chat_id=utils.get_peer_id(entity), ref=ref, title=_title(entity))
