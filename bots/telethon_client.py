"""The real ``AccountClient``: one Telegram user account through Telethon.

Every Telethon call goes through ``TelethonAccountClient._call``, which turns Telethon's errors
into the port's ``TelegramError`` family with ``bots.telethon_mapping.map_error``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from telethon import errors, events, types, utils
from telethon.tl.functions.channels import JoinChannelRequest, LeaveChannelRequest
from telethon.tl.functions.contacts import ResolveUsernameRequest
from telethon.tl.functions.messages import (
    CheckChatInviteRequest,
    DeleteChatUserRequest,
    ImportChatInviteRequest,
    SetTypingRequest,
)
from telethon.tl.functions.updates import GetStateRequest
from telethon.tl.functions.users import GetFullUserRequest, GetUsersRequest

from bots.proxy import ProxyConfig, parse_proxy_url
from bots.telethon_build import TtlCache
from bots.telethon_build import build_telegram_client as build_telegram_client
from bots.telethon_mapping import (
    FATAL,
    TRANSLATED,
    chat_info,
    incoming_from_message,
    map_error,
    media_file,
    profile_from_user,
    public_username,
    send_file_options,
    skip_reason,
)
from bots.telethon_updates import UpdatesState
from core.chatref import ChatRefParsed, parse_chat_ref
from core.events import Profile
from core.telegram import (
    Attachment,
    ChatInfo,
    ChatNotFound,
    FloodWait,
    IncomingMessage,
    OutgoingMessage,
    SentMessage,
    SessionRevokedError,
    TelegramError,
    check_outgoing,
)

T = TypeVar("T")

_log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- plumbing


@dataclass(frozen=True)
class _Closed:
    error: TelegramError | None


_WAKE = object()  # wakes a consumer blocked on the queue after close


async def _unless(tolerated: Any, call: Awaitable[T]) -> T | None:
    """Await ``call``; the ``tolerated`` Telethon errors mean "already done" and give None."""
    try:
        return await call
    except tolerated:
        return None


# ---------------------------------------------------------------------------- the adapter


@dataclass(frozen=True)
class ClientOptions:
    profile_ttl: float = 3600.0  # bios change rarely; a lead's profile is read many times
    profile_cache_size: int = 10_000
    queue_size: int = 10_000
    clock: Callable[[], float] = time.monotonic


class TelethonAccountClient:
    """``core.telegram.AccountClient`` over one Telethon ``TelegramClient``.

    ``proxy`` is the account's proxy URL (see ``bots.proxy``) or an already parsed one;
    ``media_dir`` is where attachments named by file (not URL) are read from.
    """

    def __init__(
        self,
        session: str,
        *,
        api_id: int,
        api_hash: str,
        proxy: str | ProxyConfig | None = None,
        options: ClientOptions | None = None,
        updates_cursor: str | None = None,
        media_dir: Path | None = None,
    ) -> None:
        config = parse_proxy_url(proxy) if isinstance(proxy, str) else proxy
        resume = UpdatesState.decode(updates_cursor)
        telegram = build_telegram_client(
            session=session, api_id=api_id, api_hash=api_hash, proxy=config, resume=resume
        )
        self._setup(telegram, options or ClientOptions(), resume, media_dir)

    @classmethod
    def over(
        cls,
        telegram: Any,
        options: ClientOptions | None = None,
        resume: UpdatesState | None = None,
        media_dir: Path | None = None,
    ) -> TelethonAccountClient:
        """Wrap a built ``TelegramClient`` (tests pass a stand-in with the same methods)."""
        adapter = cls.__new__(cls)
        adapter._setup(telegram, options or ClientOptions(), resume, media_dir)
        return adapter

    def _setup(
        self,
        telegram: Any,
        options: ClientOptions,
        resume: UpdatesState | None,
        media_dir: Path | None,
    ) -> None:
        self._client = telegram
        self._media_dir = media_dir  # where attachment file names are looked up
        self._updates = resume  # the state after the last message queued; None until known
        self._clock = options.clock
        self._profiles: TtlCache[int, Profile] = TtlCache(
            maxsize=options.profile_cache_size, ttl=options.profile_ttl, clock=options.clock
        )
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=options.queue_size)
        self._closed: _Closed | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._bio_paused_until = 0.0
        self._public_chats: dict[str, ChatInfo] | None = None  # joined chats by username

    async def _call(self, call: Awaitable[T]) -> T:
        """The one door to Telethon: its errors leave as the port's ``TelegramError`` family."""
        try:
            return await call
        except TRANSLATED as exc:
            raise map_error(exc) from exc

    # -- session

    async def connect(self) -> Profile:
        await self._call(self._client.connect())
        try:
            me = await self._call(self._client.get_me())
            if me is None:  # get_me hides why; ask without its filter so the reason surfaces
                await self._call(self._client(GetUsersRequest([types.InputUserSelf()])))
                raise SessionRevokedError("the session is not logged in")
        except TelegramError:
            await self._client.disconnect()
            raise
        if self._updates is None:  # a first start: resume points begin here
            state = await self._call(self._client(GetStateRequest()))
            if isinstance(state, types.updates.State):
                self._updates = UpdatesState.of(state)
        self._closed = None
        self._client.remove_event_handler(self._on_new_message)  # a reconnect must not double it
        self._client.add_event_handler(self._on_new_message, events.NewMessage(incoming=True))
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch_connection())
        return profile_from_user(me, about=None)  # no bio fetch: fewer calls right after login

    async def disconnect(self) -> None:
        self._client.remove_event_handler(self._on_new_message)
        await self._client.disconnect()
        if self._watcher is not None:
            await self._watcher
            self._watcher = None
        self._close(None)

    async def _watch_connection(self) -> None:
        error: TelegramError | None = None
        try:
            await self._client.run_until_disconnected()  # re-raises what broke the update loop
        except Exception as exc:  # why: whatever ended the connection is the consumer's news
            error = map_error(exc)
            if not isinstance(error, FATAL):  # a wait would suggest retrying a finished stream
                error = TelegramError(f"disconnected: {error}")
        self._close(error)

    def _close(self, error: TelegramError | None) -> None:
        if self._closed is None:
            self._closed = _Closed(error)
        try:
            self._queue.put_nowait(_WAKE)
        except asyncio.QueueFull:
            pass  # a full queue means the consumer is not blocked waiting

    # -- incoming

    async def _on_new_message(self, event: Any) -> None:
        # No awaits here: with sequential updates this keeps arrival order.
        if self._updates is not None:
            self._updates = self._updates.after(event.original_update, event.message.date)
        cursor = self._updates.encode() if self._updates is not None else None
        try:
            self._queue.put_nowait((event, cursor))
        except asyncio.QueueFull:
            _log.warning("incoming queue full, dropping message %s", event.message.id)

    async def incoming(self) -> AsyncIterator[IncomingMessage]:
        while True:
            if self._closed is not None and self._queue.empty():
                if self._closed.error is not None:
                    raise self._closed.error
                return
            item = await self._queue.get()
            if item is _WAKE:
                continue
            event, cursor = item
            message = await self._to_incoming(event)
            if message is not None:
                yield message.model_copy(update={"cursor": cursor})

    async def _to_incoming(self, event: Any) -> IncomingMessage | None:
        try:
            chat = event.chat or await self._call(event.get_chat())
            sender = event.sender or await self._call(event.get_sender())
        except TelegramError as exc:
            if isinstance(exc, FATAL):
                raise
            _log.warning("skipping message %s: %s", event.message.id, exc)
            return None
        if (reason := skip_reason(event.message, sender)) is not None:
            _log.debug("skipping message %s: %s", event.message.id, reason)
            return None
        full = await self._profile_for_message(event.input_sender or sender, sender.id)
        message = incoming_from_message(event.message, chat, sender, full.bio if full else None)
        if message is not None and full is not None and message.sender.username is None:
            # "min" users in big groups come without a username; the full profile has it
            sender_profile = message.sender.model_copy(update={"username": full.username})
            message = message.model_copy(update={"sender": sender_profile})
        return message

    async def _profile_for_message(self, input_user: Any, user_id: int) -> Profile | None:
        """The cached full profile, or one fetch; a bio is never worth failing a message for."""
        cached = self._profiles.get(user_id)
        if cached is not None or self._clock() < self._bio_paused_until:
            return cached
        try:
            return await self._fetch_profile(input_user)
        except FloodWait as exc:
            self._bio_paused_until = self._clock() + exc.seconds
        except FATAL:
            raise
        except (TelegramError, ValueError) as exc:  # ValueError: Telethon cannot address the user
            _log.info("no bio for user %s: %s", user_id, exc)
        return None

    # -- profiles

    async def get_profile(self, user_id: int) -> Profile:
        cached = self._profiles.get(user_id)
        if cached is not None:
            return cached
        return await self._fetch_profile(await self._resolve(user_id))

    async def _fetch_profile(self, input_user: Any) -> Profile:
        full = await self._call(self._client(GetFullUserRequest(input_user)))
        user_id = full.full_user.id
        user = next((u for u in full.users if u.id == user_id), None)
        if user is None:
            raise ChatNotFound(f"Telegram returned no user {user_id}")
        profile = profile_from_user(user, full.full_user.about)
        self._profiles.put(user_id, profile)
        return profile

    # -- chats

    async def join_chat(self, ref: str) -> ChatInfo:
        try:
            parsed = parse_chat_ref(ref)
        except ValueError as exc:
            raise ChatNotFound(str(exc)) from exc
        if parsed.kind == "invite":
            return await self._join_invite(parsed)
        joined = await self._joined_public_chats()
        if parsed.value in joined:
            return joined[parsed.value]  # already a member: no request, no FloodWait
        resolved = await self._call(self._client(ResolveUsernameRequest(parsed.value)))
        if not isinstance(resolved.peer, types.PeerChannel):
            raise ChatNotFound(f"{parsed.ref} is a user, not a chat")
        channel_id = resolved.peer.channel_id
        channel = next((c for c in resolved.chats if c.id == channel_id), None)
        if channel is None:
            raise ChatNotFound(f"Telegram resolved {parsed.ref} but sent no chat")
        await self._call(
            _unless(errors.UserAlreadyParticipantError, self._client(JoinChannelRequest(channel)))
        )
        info = chat_info(channel, parsed.ref)
        joined[parsed.value] = info
        return info

    async def _join_invite(self, parsed: ChatRefParsed) -> ChatInfo:
        request = ImportChatInviteRequest(parsed.value)
        updates = await self._call(
            _unless(errors.UserAlreadyParticipantError, self._client(request))
        )
        chats = getattr(updates, "chats", None) or []
        if not chats:  # already a member: the invite tells us which chat it is
            invite = await self._call(self._client(CheckChatInviteRequest(parsed.value)))
            chats = [invite.chat] if hasattr(invite, "chat") else []
        if not chats:
            raise ChatNotFound(f"joined {parsed.ref} but Telegram did not say which chat it is")
        return chat_info(chats[0], parsed.ref)

    async def _joined_public_chats(self) -> dict[str, ChatInfo]:
        """Public chats the account is in, loaded once; also fills Telethon's entity cache."""
        if self._public_chats is None:
            dialogs = await self._call(self._client.get_dialogs(limit=None))
            self._public_chats = {}
            for dialog in dialogs:
                name = public_username(dialog.entity)
                if name and not isinstance(dialog.entity, types.User):
                    self._public_chats[name.lower()] = chat_info(dialog.entity, f"@{name.lower()}")
        return self._public_chats

    async def leave_chat(self, chat_id: int) -> None:
        peer = await self._resolve(chat_id)
        if isinstance(peer, types.InputPeerChannel):
            request = LeaveChannelRequest(peer)
        elif isinstance(peer, types.InputPeerChat):
            request = DeleteChatUserRequest(peer.chat_id, types.InputUserSelf())
        else:
            return  # a DM has nothing to leave
        not_there = (errors.UserNotParticipantError, errors.ChannelPrivateError)
        await self._call(_unless(not_there, self._client(request)))
        if self._public_chats is not None:
            for name in [n for n, info in self._public_chats.items() if info.chat_id == chat_id]:
                del self._public_chats[name]

    # -- sending

    async def send_message(
        self,
        peer: int | str,
        text: str,
        *,
        reply_to: int | None = None,
        attachment: Attachment | None = None,
    ) -> SentMessage:
        check_outgoing(text, attachment)
        file = media_file(attachment, self._media_dir) if attachment is not None else None
        entity = await self._resolve(peer)
        if attachment is None:
            call = self._client.send_message(entity, text, reply_to=reply_to)
        else:
            options = send_file_options(attachment, text, reply_to)
            call = self._client.send_file(entity, file, **options)
        sent = await self._call(call)
        return SentMessage(chat_id=utils.get_peer_id(sent.peer_id), message_id=sent.id)

    async def send_typing(self, peer: int | str) -> None:
        entity = await self._resolve(peer)
        await self._call(self._client(SetTypingRequest(entity, types.SendMessageTypingAction())))

    async def recent_outgoing(self, peer: int | str, limit: int = 20) -> list[OutgoingMessage]:
        entity = await self._resolve(peer)
        latest = await self._call(self._client.get_messages(entity, limit=limit))
        return [
            OutgoingMessage(
                message_id=m.id,
                text=m.message or "",
                date_ts=m.date.timestamp() if m.date else time.time(),
            )
            for m in latest
            if isinstance(m, types.Message) and m.out  # not service messages (joins, pins)
        ]

    async def _resolve(self, peer: int | str) -> Any:
        """An input peer from an id or @username; loads the dialogs once before giving up."""
        try:
            return await self._call(self._client.get_input_entity(peer))
        except ValueError:
            if self._public_chats is not None:
                raise ChatNotFound(f"{peer!r} is unknown to this account") from None
        await self._joined_public_chats()  # fills the entity cache with every dialog
        try:
            return await self._call(self._client.get_input_entity(peer))
        except ValueError:
            raise ChatNotFound(f"{peer!r} is unknown to this account") from None
