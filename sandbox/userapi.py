"""The user-account API behind ``bots.sandbox_client``: JSON over HTTP, one session per account.

Every call carries ``Authorization: Session <session>``. Updates are read by cursor: the position
in the account's inbox, which never shifts, so a client that reconnects with its cursor neither
misses nor repeats a message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from itertools import islice
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from sandbox import accounts
from sandbox.errors import SandboxError
from sandbox.http import json_body, ok, parse, runtime
from sandbox.state import Account, Chat, Log, Media, Message, User, World

PREFIX = "/user"
MAX_BATCH = 1000
MAX_POLL_SECONDS = 60
CAPTION_LIMIT = 1024  # Telegram's, for a photo's caption; a text may have 4096


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JoinRequest(_Body):
    ref: str = Field(min_length=1, description="@username, username or t.me link")


class LeaveRequest(_Body):
    chat_id: int


class PeerRequest(_Body):
    peer: int | str = Field(description="user id, chat id (negative) or @username / chat ref")


class AttachmentBody(_Body):
    kind: Literal["photo", "sticker"]
    ref: str = Field(min_length=1, max_length=512, description="an https URL or a file name")


class SendRequest(PeerRequest):
    text: str = Field("", max_length=4096, description="the caption with an attachment")
    reply_to: int | None = Field(None, ge=1, description="a message id of the same dialog")
    attachment: AttachmentBody | None = None

    def media(self) -> Media | None:
        """The attachment, after Telegram's checks on what goes with it."""
        if self.attachment is None:
            if not self.text.strip():
                raise SandboxError("MESSAGE_EMPTY", "the message has no text")
            return None
        if self.attachment.kind == "sticker" and self.text:
            raise SandboxError("BAD_REQUEST", "text: a sticker carries no caption")
        if len(self.text) > CAPTION_LIMIT:
            raise SandboxError("MEDIA_CAPTION_TOO_LONG", f"a caption is at most {CAPTION_LIMIT}")
        return Media(self.attachment.kind, self.attachment.ref)


class OutgoingQuery(BaseModel):
    limit: int = Field(20, ge=1, le=100, description="how many of the dialog's latest to look at")


class UpdatesQuery(BaseModel):
    cursor: int | None = Field(None, ge=0, description="inbox position; 'now' when absent")
    limit: int = Field(100, ge=1, le=MAX_BATCH)
    timeout: float = Field(10.0, ge=0, le=MAX_POLL_SECONDS)


def _peer(raw: str) -> int | str:
    return int(raw) if raw.lstrip("-").isdigit() else raw


def _account(request: web.Request) -> Account:
    return accounts.authenticate(runtime(request).world, request.headers.get("Authorization"))


async def me(request: web.Request) -> web.Response:
    account = _account(request)
    return ok(profile=account.user.profile_json(), cursor=account.inbox.end)


async def join(request: web.Request) -> web.Response:
    account = _account(request)
    body = parse(JoinRequest, await json_body(request))
    chat = accounts.join(runtime(request).world, account, body.ref)
    return ok(chat=chat.info_json())


async def leave(request: web.Request) -> web.Response:
    account = _account(request)
    body = parse(LeaveRequest, await json_body(request))
    accounts.leave(runtime(request).world, account, body.chat_id)
    return ok()


async def updates(request: web.Request) -> web.Response:
    """Long poll: answer at once when something is pending, else wait up to ``timeout``."""
    rt = runtime(request)
    account = _account(request)
    query = parse(UpdatesQuery, dict(request.query))
    cursor = account.inbox.end if query.cursor is None else query.cursor
    loop = asyncio.get_running_loop()
    deadline = loop.time() + query.timeout
    while True:
        start, items = account.inbox.read(cursor, query.limit)
        remaining = deadline - loop.time()
        if items or remaining <= 0 or rt.stopping:
            break
        await account.signal.wait(remaining)
    batch = [{"update_id": start + i, "message": m.incoming_json()} for i, m in enumerate(items)]
    return ok(updates=batch, cursor=start + len(items))


async def profile(request: web.Request) -> web.Response:
    _account(request)
    target = accounts.resolve_peer(runtime(request).world, _peer(request.match_info["peer"]))
    if isinstance(target, Chat):
        return ok(chat=target.info_json())
    return ok(profile=target.profile_json())


async def send(request: web.Request) -> web.Response:
    account = _account(request)
    body = parse(SendRequest, await json_body(request))
    rt = runtime(request)
    media = body.media()
    message = accounts.send(
        rt.world, account, body.peer, body.text, reply_to=body.reply_to, media=media
    )
    if message.chat is not None and message.chat.lively:
        rt.lively.heard(message)
    where = message.chat or message.recipient
    assert where is not None  # noqa: S101 - a message is in a chat or a DM
    link = message.chat.link(message.message_id) if message.chat else None
    return ok(chat_id=where.id, message_id=message.message_id, date_ts=message.date, link=link)


def _dialog(world: World, me: User, target: Chat | User) -> Iterator[Message]:
    """The messages of the account's dialog with ``target``, newest first."""
    log: Log[Message] | None = target.history if isinstance(target, Chat) else world.dms.get(me.id)
    peer = None if isinstance(target, Chat) else target.id  # one DM log holds every dialog
    if log is None:
        return
    for position in range(log.end - 1, log.start - 1, -1):
        message = log.get(position)
        if message is None:
            continue
        recipient = message.recipient.id if message.recipient else None
        if peer is None or peer in (message.sender.id, recipient):
            yield message


async def outgoing(request: web.Request) -> web.Response:
    """What this account sent lately in a dialog, newest first."""
    account = _account(request)
    world = runtime(request).world
    target = accounts.resolve_peer(world, _peer(request.match_info["peer"]))
    query = parse(OutgoingQuery, dict(request.query))
    # Like Telegram's history call with a limit, filtered to outgoing: the limit counts both ways.
    latest = islice(_dialog(world, account.user, target), query.limit)
    mine = [m for m in latest if m.sender.id == account.user.id]
    return ok(
        messages=[{"message_id": m.message_id, "text": m.text, "date_ts": m.date} for m in mine]
    )


async def typing(request: web.Request) -> web.Response:
    account = _account(request)
    body = parse(PeerRequest, await json_body(request))
    accounts.typing(runtime(request).world, account, body.peer)
    return ok()


def routes() -> list[web.RouteDef]:
    return [
        web.get(f"{PREFIX}/me", me),
        web.post(f"{PREFIX}/join", join),
        web.post(f"{PREFIX}/leave", leave),
        web.get(f"{PREFIX}/updates", updates),
        web.get(f"{PREFIX}/users/{{peer}}", profile),
        web.post(f"{PREFIX}/messages", send),
        web.post(f"{PREFIX}/typing", typing),
        web.get(f"{PREFIX}/dialogs/{{peer}}/outgoing", outgoing),
    ]
