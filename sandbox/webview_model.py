"""What the web view reads: every conversation of the world as a timeline of messages, and the
JSON the page renders (plain text plus Telegram entities; the page builds DOM nodes from them and
never parses a message as HTML).

Three kinds of conversation, each addressed by a key the page keeps in its URL:
``g_<chat id>`` a group, ``d_<account id>_<peer id>`` an account's DM dialog, ``b_<bot id>_<user
id>`` a bot's private chat with a simulated user.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlsplit

from sandbox.botworld import BotState
from sandbox.errors import SandboxError
from sandbox.state import Log, Message, User, World

PAGE = 200  # messages a conversation opens with, and per "older" step
PREVIEW = 80  # characters of the last message shown in the chat list
Kind = Literal["group", "dm", "bot"]


class Timeline(Protocol):
    """A conversation's messages, oldest first, with increasing message ids."""

    def newest(self) -> Message | None: ...

    def after(self, message_id: int, limit: int) -> tuple[list[Message], bool]:
        """Messages newer than ``message_id``: the oldest ``limit`` of them, or — when more came
        than that — the newest ``limit`` and True (the page starts over instead of catching up)."""
        ...

    def before(self, message_id: int | None, limit: int) -> list[Message]:
        """The newest ``limit`` messages older than ``message_id`` (the tail when None)."""
        ...


class LogTimeline:
    """A group's history or a bot's private chat: message id = position in the log + 1."""

    def __init__(self, log: Log[Message] | None) -> None:
        self._log: Log[Message] = log if log is not None else Log(1)

    def newest(self) -> Message | None:
        return self._log.get(self._log.end - 1)

    def after(self, message_id: int, limit: int) -> tuple[list[Message], bool]:
        if self._log.end - max(message_id, self._log.start) > limit:
            return self.before(None, limit), True
        return self._log.read(message_id, limit)[1], False

    def before(self, message_id: int | None, limit: int) -> list[Message]:
        end = self._log.end if message_id is None else min(message_id - 1, self._log.end)
        start = max(end - limit, self._log.start)
        return self._log.read(start, max(end - start, 0))[1] if end > start else []


class ListTimeline:
    """An account's dialog with one peer, picked out of the account's DM log by ``DmIndex``."""

    def __init__(self, messages: list[Message]) -> None:
        self._messages = messages

    def newest(self) -> Message | None:
        return self._messages[-1] if self._messages else None

    def _index(self, message_id: int) -> int:
        return bisect.bisect_right(self._messages, message_id, key=lambda m: m.message_id)

    def after(self, message_id: int, limit: int) -> tuple[list[Message], bool]:
        start = self._index(message_id)
        if len(self._messages) - start > limit:
            return self._messages[-limit:], True
        return self._messages[start:], False

    def before(self, message_id: int | None, limit: int) -> list[Message]:
        end = len(self._messages) if message_id is None else self._index(message_id - 1)
        return self._messages[max(end - limit, 0) : end]


@dataclass
class _AccountDialogs:
    cursor: int = 0
    by_peer: dict[int, list[Message]] = field(default_factory=dict)


class DmIndex:
    """Each account's DMs split by peer, kept up to date by reading only what is new in the
    account's DM log (one log holds every dialog; scanning it per poll would grow with it)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._accounts: dict[int, _AccountDialogs] = {}

    def dialogs(self, account_id: int) -> dict[int, list[Message]]:
        state = self._accounts.setdefault(account_id, _AccountDialogs())
        log = self.world.dms.get(account_id)
        if log is not None and log.end > state.cursor:
            start, items = log.read(state.cursor, log.end - state.cursor)
            state.cursor = start + len(items)
            for message in items:
                self._add(state, account_id, message)
        return state.by_peer

    def _add(self, state: _AccountDialogs, account_id: int, message: Message) -> None:
        other = message.recipient if message.sender.id == account_id else message.sender
        if other is None:
            return
        kept = state.by_peer.setdefault(other.id, [])
        kept.append(message)
        if len(kept) >= 2 * self.world.history_keep:  # the world keeps no more than this either
            del kept[: len(kept) - self.world.history_keep]


@dataclass
class Conversation:
    """One conversation the page can open: what it is, who the page plays in it, its messages."""

    key: str
    kind: Kind
    title: str
    subtitle: str
    timeline: Timeline
    me: User | None  # whom the composer writes as (None in a group: the page picks a person)
    bot: BotState | None = None
    chat_id: int | None = None  # the group's id, or the bot chat's user id
    account: User | None = None


def _parts(key: str) -> list[int]:
    try:
        return [int(part) for part in key.split("_")[1:]]
    except ValueError:
        raise SandboxError("NOT_FOUND", f"no conversation {key!r}") from None


def _group(world: World, ids: list[int], key: str) -> Conversation | None:
    chat = world.chats.get(ids[0]) if len(ids) == 1 else None
    if chat is None:
        return None
    subtitle = f"@{chat.ref}" if chat.ref else chat.kind
    timeline = LogTimeline(chat.history)
    return Conversation(key, "group", chat.title, subtitle, timeline, None, chat_id=chat.id)


def _dm(world: World, index: DmIndex, ids: list[int], key: str) -> Conversation | None:
    if len(ids) != 2 or ids[0] not in world.accounts or ids[1] not in world.users:
        return None
    account, peer = world.accounts[ids[0]].user, world.users[ids[1]]
    timeline = ListTimeline(index.dialogs(account.id).get(peer.id, []))
    subtitle = f"DMs with {account.full_name} (account)"
    return Conversation(key, "dm", peer.full_name, subtitle, timeline, peer, account=account)


def _bot_chat(world: World, ids: list[int], key: str) -> Conversation | None:
    if len(ids) != 2 or ids[0] not in world.bots or ids[1] not in world.users:
        return None
    bot, user = world.bots[ids[0]], world.users[ids[1]]
    timeline = LogTimeline(bot.chats.get(user.id))
    subtitle = f"private chat with @{bot.user.username} (bot)"
    return Conversation(key, "bot", user.full_name, subtitle, timeline, user, bot, user.id)


def open_conversation(world: World, index: DmIndex, key: str) -> Conversation:
    """The conversation a key names, or NOT_FOUND."""
    ids = _parts(key)
    found = {
        "g_": lambda: _group(world, ids, key),
        "d_": lambda: _dm(world, index, ids, key),
        "b_": lambda: _bot_chat(world, ids, key),
    }.get(key[:2], lambda: None)()
    if found is None:
        raise SandboxError("NOT_FOUND", f"no conversation {key!r}")
    return found


# --- JSON for the page ------------------------------------------------------------------------


def person_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.full_name, "username": user.username, "is_bot": user.is_bot}


def entities_json(message: Message) -> list[dict[str, Any]]:
    """Its Telegram entities, with only the fields the page draws (a mentioned user's profile
    stays out: the text already names them)."""
    kept = ("type", "offset", "length", "url", "language")
    return [{k: e[k] for k in kept if k in e} for e in message.entities]


def summary(message: Message) -> str:
    """A line of text for a quote or the chat list: the text, or what the media is."""
    if message.text or message.attachment is None:
        return message.text[:PREVIEW]
    return "Sticker" if message.attachment.kind == "sticker" else "Photo"


def media_json(message: Message) -> dict[str, str] | None:
    """The media's kind and file name only: the page never loads a URL from a message (its
    CSP forbids it anyway), it shows a placeholder named after the file."""
    media = message.attachment
    if media is None:
        return None
    path = urlsplit(media.ref).path if media.ref.startswith(("http://", "https://")) else media.ref
    name = path.rstrip("/").rsplit("/", 1)[-1] or media.ref
    return {"kind": media.kind, "name": unquote(name)[:PREVIEW]}


def _replied(message: Message) -> dict[str, Any] | None:
    replied = message.reply_to
    if replied is None:
        return None
    text = "Deleted message" if replied.deleted else summary(replied)
    return {"id": replied.message_id, "from": replied.sender.full_name, "text": text}


def _buttons(message: Message) -> list[list[dict[str, str]]] | None:
    rows = (message.reply_markup or {}).get("inline_keyboard")
    if not isinstance(rows, list):
        return None
    shown = []
    for row in rows:
        buttons = []
        for button in row if isinstance(row, list) else []:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                continue
            kept = {k: button[k] for k in ("text", "callback_data", "url") if k in button}
            buttons.append({k: v for k, v in kept.items() if isinstance(v, str)})
        shown.append(buttons)
    return shown


def message_view(message: Message) -> dict[str, Any]:
    """Everything the page shows of a message; texts stay plain text (the page escapes them)."""
    return {
        "id": message.message_id,
        "date": message.date,
        "from": person_json(message.sender),
        "text": message.text,
        "entities": entities_json(message),
        "edited": message.edit_date,
        "reply_to": _replied(message),
        "attachment": media_json(message),
        "buttons": _buttons(message),
    }


def preview(message: Message | None) -> dict[str, Any] | None:
    if message is None:
        return None
    return {
        "id": message.message_id,
        "date": message.date,
        "from": message.sender.full_name,
        "text": summary(message),
    }


def edited_since(messages: list[Message], since: float) -> list[Message]:
    """Those edited at or after ``since`` (edit dates are whole seconds: the page may get an
    edit twice, never miss one)."""
    return [m for m in messages if m.edit_date is not None and m.edit_date >= int(since)]
