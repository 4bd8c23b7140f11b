"""The world model: users, chats, messages, accounts with their inboxes, all in memory.

Everything here is synchronous and runs on the event loop's thread; the HTTP layers and the
audience call into it. Policy (limits, faults, membership rules) lives in ``accounts`` and
``botworld``; this module only stores and fans out.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sandbox.errors import SandboxError
from sandbox.faults import Faults
from sandbox.limits import AccountLimiter, BotLimiter, LimitsConfig
from sandbox.primitives import Log as Log
from sandbox.primitives import Media as Media
from sandbox.primitives import Signal as Signal
from sandbox.primitives import TypingBoard

if TYPE_CHECKING:
    from sandbox.botworld import BotState
    from sandbox.responder import Responder

ChatKind = Literal["supergroup", "channel"]
_REF = re.compile(r"^(?:https?://)?(?:t\.me/|telegram\.me/)?@?([A-Za-z][A-Za-z0-9_]{3,31})/?$")


def normalize_ref(ref: str) -> str | None:
    """``@name``, ``name``, ``t.me/name``, ``https://t.me/name`` → ``name`` (lower case)."""
    match = _REF.match(ref.strip())
    return match.group(1).lower() if match else None


@dataclass(slots=True)
class User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    bio: str | None = None
    is_bot: bool = False
    lang: str = "en"

    def profile_json(self) -> dict[str, Any]:
        """The shape of ``core.events.Profile``."""
        return {
            "user_id": self.id,
            "username": self.username,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "bio": self.bio,
            "is_bot": self.is_bot,
        }

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


@dataclass(slots=True)
class Chat:
    id: int
    kind: ChatKind
    ref: str | None
    title: str
    history: Log[Message]
    members: set[int] = field(default_factory=set)  # accounts only; the audience posts anywhere
    lively: bool = False  # its members answer our accounts' questions (``sandbox.lively``)

    def link(self, message_id: int) -> str | None:
        return f"https://t.me/{self.ref}/{message_id}" if self.ref else None

    def info_json(self) -> dict[str, Any]:
        return {"chat_id": self.id, "ref": self.ref, "title": self.title, "type": self.kind}


@dataclass(slots=True)
class Message:
    """One message: in a chat (``chat`` set) or a DM (``recipient`` set).

    - ``text``: the text as Telegram stores it — for a bot's message sent with
      ``parse_mode=HTML`` the parsed plain text, never the tags;
    - ``entities``: its formatting as Bot API MessageEntity objects (``type``, ``offset``,
      ``length`` in UTF-16 code units, and ``url`` / ``language`` / ``custom_emoji_id`` /
      ``user`` where the type has one), sorted as Telegram sorts them; empty when plain;
    - ``reply_markup``: the inline keyboard as sent (``{"inline_keyboard": [[button]]}``);
    - ``reply_to``: the message this one answers (same chat), or None;
    - ``attachment``: its photo or sticker, whose caption is ``text`` ("" for a sticker);
    - ``edit_date``: Unix time of the last edit, None if never edited;
    - ``deleted``: deleted from its chat (deleteMessage, or a user deleting it): it keeps its id
      and place, but Telegram no longer shows, finds, edits or quotes it.
    """

    message_id: int
    sender: User
    text: str
    date: float
    chat: Chat | None = None
    recipient: User | None = None
    reply_markup: dict[str, Any] | None = None
    edit_date: int | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_to: Message | None = None
    deleted: bool = False
    attachment: Media | None = None
    _json: dict[str, Any] | None = None

    def edit(
        self,
        text: str,
        markup: dict[str, Any] | None,
        when: int,
        entities: list[dict[str, Any]] | None = None,
    ) -> None:
        """New text (with its entities; None keeps them) and keyboard, stamped ``when``."""
        self.text, self.reply_markup, self.edit_date = text, markup, when
        if entities is not None:
            self.entities = entities
        self._json = None  # the cached view shows the old text

    def incoming_json(self) -> dict[str, Any]:
        """The shape of ``core.telegram.IncomingMessage`` as the receiver sees it (cached)."""
        if self._json is None:
            chat, sender = self.chat, self.sender
            self._json = {
                "chat_id": chat.id if chat else sender.id,
                "chat_ref": chat.ref if chat else sender.username,
                "chat_title": chat.title if chat else sender.full_name,
                "is_private": chat is None,
                "message_id": self.message_id,
                "text": self.text,
                "date_ts": self.date,
                "link": chat.link(self.message_id) if chat else None,
                "sender": sender.profile_json(),
                "reply_to_message_id": self.reply_to.message_id if self.reply_to else None,
                "attachment": self.attachment.json() if self.attachment else None,
            }
        return self._json


@dataclass(slots=True)
class Account:
    user: User
    inbox: Log[Message]
    signal: Signal = field(default_factory=Signal)
    chats: set[int] = field(default_factory=set)
    contacts: set[int] = field(default_factory=set)  # users with a dialog: not strangers
    banned: bool = False
    phone: str | None = None  # logs in by phone (``sandbox.login``)
    password: str | None = None  # two-step verification, asked after the code


@dataclass(slots=True)
class PendingLogin:
    """A login code sent to a phone, waiting for ``sign-in`` (and maybe the 2FA password)."""

    phone: str
    code: str
    expires_at: float
    wrong_codes: int = 0
    code_accepted: bool = False  # the code was right; the 2FA password is what is left


class World:
    """Every user, chat, account, session and bot of one sandbox."""

    def __init__(
        self,
        *,
        limits: LimitsConfig | None = None,
        responder: Responder | None = None,
        clock: Callable[[], float] = time.time,
        history_keep: int = 20_000,
        inbox_keep: int = 100_000,
    ) -> None:
        self.clock = clock
        self.responder = responder
        self.history_keep = history_keep
        self.inbox_keep = inbox_keep
        self.users: dict[int, User] = {}
        self.usernames: dict[str, int] = {}
        self.chats: dict[int, Chat] = {}
        self.chat_refs: dict[str, int] = {}
        self.accounts: dict[int, Account] = {}
        self.sessions: dict[str, int] = {}
        self.revoked: set[str] = set()
        self.phones: dict[str, int] = {}  # phone (E.164) -> account user id
        self.logins: dict[str, PendingLogin] = {}  # phone_code_hash -> the login it belongs to
        self.code_requests: dict[str, list[float]] = {}  # phone -> when codes were asked
        self.dms: dict[int, Log[Message]] = {}
        self.dialog_counters: dict[tuple[int, int], int] = {}
        self.bots: dict[int, BotState] = {}
        self.bot_tokens: dict[str, int] = {}
        self.faults = Faults()
        # "typing…" per chat id, or per (account id, peer id) for an account's DM dialog
        self.typing: TypingBoard[int | tuple[int, int]] = TypingBoard()
        self.set_limits(limits or LimitsConfig())
        self._next_user_id = 1_000_001
        self._next_chat_id = 1_001_000_000_001

    def set_limits(self, limits: LimitsConfig) -> None:
        """New limits start with full buckets."""
        self.limits = limits
        self.bot_limiter = BotLimiter(limits.bot)
        self.account_limiter = AccountLimiter(limits.account)

    # --- users and accounts -------------------------------------------------------------------

    def add_user(
        self,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        bio: str | None = None,
        lang: str = "en",
        user_id: int | None = None,
        is_bot: bool = False,
    ) -> User:
        key = self._claim_username(username)
        if user_id is None:
            while self._next_user_id in self.users:
                self._next_user_id += 1
            user_id = self._next_user_id
        elif user_id in self.users or user_id <= 0:
            raise SandboxError("BAD_REQUEST", f"user_id {user_id} is taken or not positive")
        user = User(user_id, first_name, last_name, username, bio, is_bot, lang)
        self.users[user_id] = user
        if key:
            self.usernames[key] = user_id
        return user

    def _claim_username(self, username: str | None) -> str | None:
        if username is None:
            return None
        key = normalize_ref(username)
        if key is None:
            raise SandboxError("BAD_REQUEST", f"username {username!r} is not a valid username")
        if key in self.usernames or key in self.chat_refs:
            raise SandboxError("USERNAME_OCCUPIED", f"username {username!r} is taken")
        return key

    def add_account(
        self, first_name: str, *, session: str | None = None, **profile: Any
    ) -> tuple[Account, str]:
        """A user account and a live session (``session`` lets a demo reuse a stored one)."""
        if session is not None:
            self._check_session_free(session)
        user = self.add_user(first_name, **profile)
        account = self.accounts[user.id] = Account(user, Log(self.inbox_keep))
        return account, self.new_session(user.id, session)

    def new_session(self, user_id: int, session: str | None = None) -> str:
        if user_id not in self.accounts:
            raise SandboxError("NOT_FOUND", f"no account {user_id}")
        session = session or f"sbx_{secrets.token_urlsafe(24)}"
        self._check_session_free(session)
        self.sessions[session] = user_id
        return session

    def _check_session_free(self, session: str) -> None:
        if session in self.sessions or session in self.revoked or not session.strip():
            raise SandboxError("BAD_REQUEST", "session: already used, revoked or empty")

    def revoke_sessions(self, user_id: int) -> int:
        revoked = [s for s, uid in self.sessions.items() if uid == user_id]
        for session in revoked:
            del self.sessions[session]
            self.revoked.add(session)
        return len(revoked)

    def user(self, peer: int | str) -> User | None:
        """A user by id or @username."""
        if isinstance(peer, int):
            return self.users.get(peer)
        key = normalize_ref(peer)
        return self.users.get(self.usernames.get(key, 0)) if key else None

    # --- chats and messages -------------------------------------------------------------------

    def add_chat(self, ref: str | None, title: str, kind: ChatKind = "supergroup") -> Chat:
        key = self._claim_username(ref)
        chat = Chat(-self._next_chat_id, kind, key, title, Log(self.history_keep))
        self._next_chat_id += 1
        self.chats[chat.id] = chat
        if key:
            self.chat_refs[key] = chat.id
        return chat

    def chat(self, ref: int | str) -> Chat | None:
        """A chat by id, @ref or t.me link."""
        if isinstance(ref, int):
            return self.chats.get(ref)
        key = normalize_ref(ref)
        return self.chats.get(self.chat_refs.get(key, 0)) if key else None

    def post(self, chat: Chat, sender: User, text: str, **extra: Any) -> Message:
        """Store a chat message and hand it to every member account except its sender."""
        message = Message(chat.history.end + 1, sender, text, self.clock(), chat=chat, **extra)
        chat.history.append(message)
        self.typing.stop(chat.id, sender.id)
        for member in chat.members:
            if member != sender.id:
                account = self.accounts[member]
                account.inbox.append(message)
                account.signal.notify()
        return message

    def deliver_dm(self, sender: User, recipient: User, text: str, **extra: Any) -> Message:
        """Store a DM; an account recipient gets it in its inbox, anyone else may answer."""
        pair = (min(sender.id, recipient.id), max(sender.id, recipient.id))
        number = self.dialog_counters[pair] = self.dialog_counters.get(pair, 0) + 1
        message = Message(number, sender, text, self.clock(), recipient=recipient, **extra)
        self.typing.stop((sender.id, recipient.id), sender.id)
        for uid in pair:
            self.dms.setdefault(uid, Log(self.history_keep)).append(message)
        if (account := self.accounts.get(recipient.id)) is not None:
            account.contacts.add(sender.id)
            account.inbox.append(message)
            account.signal.notify()
        elif self.responder is not None and not recipient.is_bot:
            self._schedule_reply(sender, recipient, text)
        return message

    def _schedule_reply(self, sender: User, recipient: User, text: str) -> None:
        assert self.responder is not None  # noqa: S101 - checked by the caller
        reply = self.responder.reply(recipient, sender, text)
        if reply is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # synchronous use (unit tests): nobody to answer later
        loop.call_later(reply.delay, self.deliver_dm, recipient, sender, reply.text)

    def supergroups(self) -> list[Chat]:
        return [c for c in self.chats.values() if c.kind == "supergroup"]

    def wake_all(self) -> None:
        """Release every long poll (shutdown): they answer with what they have."""
        for account in self.accounts.values():
            account.signal.notify()
        for bot in self.bots.values():
            bot.signal.notify()
