"""The sandbox adapter of the account port: ``AccountClient`` over the sandbox's user-account API.

It speaks JSON over HTTP with ``Authorization: Session <session>`` and turns the sandbox's
MTProto-style codes into the ``core.telegram`` error family. ``incoming()`` reads the account's
inbox by cursor and advances it only when the consumer asks for the next message, so a lost
connection or a restarted sandbox costs a retry, never a message or a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp
from pydantic import ValidationError

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
    OutgoingMessage,
    PeerFlood,
    ReplyNotFound,
    SentMessage,
    SessionRevokedError,
    TelegramError,
    TelegramUnavailable,
    WriteForbidden,
    check_outgoing,
)

log = logging.getLogger(__name__)
REQUEST_TIMEOUT = 30.0  # seconds, for everything but the long poll

_ERRORS: dict[str, type[TelegramError]] = {
    "PEER_FLOOD": PeerFlood,
    "USER_DEACTIVATED_BAN": AccountBannedError,
    "USER_DEACTIVATED": AccountBannedError,
    "AUTH_KEY_UNREGISTERED": SessionRevokedError,
    "SESSION_REVOKED": SessionRevokedError,
    "SESSION_EXPIRED": SessionRevokedError,
    "CHAT_WRITE_FORBIDDEN": WriteForbidden,
    "CHAT_ADMIN_REQUIRED": WriteForbidden,
    "USER_PRIVACY_RESTRICTED": WriteForbidden,
    "USER_BANNED_IN_CHANNEL": WriteForbidden,
    "CHAT_NOT_FOUND": ChatNotFound,
    "CHANNELS_TOO_MUCH": ChatLimitReached,
    "PEER_ID_INVALID": ChatNotFound,
    "REPLY_MESSAGE_ID_INVALID": ReplyNotFound,
}


class SandboxApiError(TelegramError):
    """A sandbox refusal with no dedicated port exception (e.g. ``CHANNELS_TOO_MUCH``)."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code


class SandboxUnavailable(TelegramUnavailable):
    """The sandbox did not answer (down, restarting, timed out): worth retrying later."""


def error_from(body: dict[str, Any]) -> TelegramError:
    code = str(body.get("error") or "UNKNOWN")
    description = str(body.get("description") or "")
    if code == "FLOOD_WAIT":
        return FloodWait(int(body.get("seconds") or 1))
    kind = _ERRORS.get(code)
    return kind(f"{code}: {description}") if kind else SandboxApiError(code, description)


class SandboxAccountClient:
    """One user account in the sandbox Telegram."""

    def __init__(
        self,
        base_url: str,
        session: str,
        *,
        http: aiohttp.ClientSession | None = None,
        proxy: str | None = None,  # accepted for parity with the Telethon adapter; unused
        poll_timeout: float = 10.0,
        batch_size: int = 500,
        retry_delays: tuple[float, float] = (0.2, 5.0),
        cursor: int | None = None,
        media_dir: Path | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Session {session}"}
        self._http = http
        self._owns_http = http is None
        self.poll_timeout = poll_timeout
        self.batch_size = batch_size
        self.retry_delays = retry_delays
        self.cursor = cursor  # position in the account's inbox of the next message to hand out
        self._closed = False
        self.media_dir = media_dir  # checked for attachment files when given

    async def connect(self) -> Profile:
        """Log in; from now on ``incoming()`` delivers what arrives (unless a cursor was given)."""
        self._closed = False
        body = await self._call("GET", "/user/me")
        if self.cursor is None:
            self.cursor = int(body["cursor"])
        return Profile.model_validate(body["profile"])

    async def disconnect(self) -> None:
        self._closed = True
        if self._owns_http and self._http is not None:
            await self._http.close()
            self._http = None

    async def join_chat(self, ref: str) -> ChatInfo:
        chat = (await self._call("POST", "/user/join", json={"ref": ref}))["chat"]
        return ChatInfo(chat_id=chat["chat_id"], ref=chat["ref"] or ref, title=chat["title"])

    async def leave_chat(self, chat_id: int) -> None:
        await self._call("POST", "/user/leave", json={"chat_id": chat_id})

    async def get_profile(self, user_id: int) -> Profile:
        body = await self._call("GET", f"/user/users/{user_id}")
        if "profile" not in body:
            raise ChatNotFound(f"PEER_ID_INVALID: {user_id} is a chat, not a user")
        return Profile.model_validate(body["profile"])

    async def send_message(
        self,
        peer: int | str,
        text: str,
        *,
        reply_to: int | None = None,
        attachment: Attachment | None = None,
    ) -> SentMessage:
        check_outgoing(text, attachment)
        request: dict[str, Any] = {"peer": peer, "text": text}
        if reply_to is not None:
            request["reply_to"] = reply_to
        if attachment is not None:
            self._check_media(attachment)
            request["attachment"] = attachment.model_dump()
        body = await self._call("POST", "/user/messages", json=request)
        return SentMessage(chat_id=body["chat_id"], message_id=body["message_id"])

    def _check_media(self, attachment: Attachment) -> None:
        """The sandbox stores only the name; a file that the real adapter would not find is
        refused the same way here, so a scene that works in the demo works for real."""
        if self.media_dir is None or attachment.is_url:
            return
        if not (self.media_dir / attachment.ref).is_file():
            raise AttachmentMissing(f"no file {attachment.ref!r} in {self.media_dir}")

    async def send_typing(self, peer: int | str) -> None:
        await self._call("POST", "/user/typing", json={"peer": peer})

    async def recent_outgoing(self, peer: int | str, limit: int = 20) -> list[OutgoingMessage]:
        path = f"/user/dialogs/{quote(str(peer), safe='@')}/outgoing"
        body = await self._call("GET", path, params={"limit": str(limit)})
        return [OutgoingMessage.model_validate(m) for m in body["messages"]]

    async def incoming(self) -> AsyncIterator[IncomingMessage]:
        """New messages in order; transient failures are retried with backoff from the cursor.

        Account-level refusals (banned, revoked) end the stream by raising; they need a human.
        """
        first, longest = self.retry_delays
        delay = first
        while not self._closed:
            try:
                body = await self._poll()
            except SandboxUnavailable as exc:
                if self._closed:
                    return
                log.warning("sandbox unreachable, retrying in %.1fs: %s", delay, exc)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, longest)
                continue
            delay = first
            for update in body["updates"]:
                message = self._parse(update)
                after = int(update["update_id"]) + 1
                if message is not None:
                    yield message.model_copy(update={"cursor": str(after)})
                self.cursor = after
            self.cursor = int(body["cursor"])

    async def _poll(self) -> dict[str, Any]:
        params = {"timeout": str(self.poll_timeout), "limit": str(self.batch_size)}
        if self.cursor is not None:
            params["cursor"] = str(self.cursor)
        budget = self.poll_timeout + REQUEST_TIMEOUT
        return await self._call("GET", "/user/updates", params=params, budget=budget)

    @staticmethod
    def _parse(update: dict[str, Any]) -> IncomingMessage | None:
        try:
            message = IncomingMessage.model_validate(update["message"])
        except (KeyError, ValidationError) as exc:
            # The type only: a validation error quotes the message, which is personal data.
            kind = type(exc).__name__
            log.error("skipping malformed sandbox update %s (%s)", update.get("update_id"), kind)
            return None
        if not message.text and not message.is_private:
            return None  # a sticker or bare photo in a group: skipped, as the Telethon adapter does
        return message

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        budget: float = REQUEST_TIMEOUT,
    ) -> dict[str, Any]:
        if self._closed:
            raise SandboxUnavailable("the client is disconnected")
        if self._http is None:
            self._http = aiohttp.ClientSession()
        url = f"{self._base}{path}"
        limit = aiohttp.ClientTimeout(total=budget)
        try:
            async with self._http.request(
                method, url, json=json, params=params, headers=self._headers, timeout=limit
            ) as response:
                status = response.status
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise SandboxUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if status >= 500 or not isinstance(body, dict):
            raise SandboxUnavailable(f"{method} {path}: HTTP {status}")
        if not body.get("ok"):
            raise error_from(body)
        return body


if TYPE_CHECKING:  # mypy proves the adapter fits the port
    from core.telegram import AccountClient

    _fits_the_port: type[AccountClient] = SandboxAccountClient
