"""Bots in the world: their update queues, private chats, callbacks, and what Telegram refuses.

Serialisation follows the Bot API object shapes (User, Chat, Message, CallbackQuery, Update), so
aiogram validates them into its own types unchanged.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from sandbox.errors import BotApiError, SandboxError
from sandbox.limits import retry_seconds
from sandbox.state import Chat, Log, Message, Signal, User, World

_TOKEN = re.compile(r"^(\d{1,15}):[A-Za-z0-9_-]{5,}$")
MAX_TEXT = 4096
# Without allowed_updates Telegram sends every kind except these.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_PRIVATE_CHAT_KEYS = ("id", "first_name", "last_name", "username")


@dataclass
class CallbackRecord:
    id: str
    user_id: int
    message_id: int
    data: str
    answered: bool = False
    text: str | None = None
    show_alert: bool = False


@dataclass
class BotState:
    user: User
    token: str
    updates: Log[dict[str, Any]]
    signal: Signal = field(default_factory=Signal)
    chats: dict[int, Log[Message]] = field(default_factory=dict)  # private chats by user id
    started: set[int] = field(default_factory=set)
    blocked_by: set[int] = field(default_factory=set)
    callbacks: dict[str, CallbackRecord] = field(default_factory=dict)
    allowed_updates: list[str] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    poll_generation: int = 0

    @property
    def id(self) -> int:
        return self.user.id


def register_bot(
    world: World, username: str, first_name: str | None = None, token: str | None = None
) -> BotState:
    """A bot whose id is the token's number, as aiogram derives ``bot.id`` from the token."""
    if token is None:
        user = world.add_user(first_name or username, username=username, is_bot=True)
        token = f"{user.id}:{secrets.token_urlsafe(26)}"
    else:
        match = _TOKEN.match(token)
        if match is None:
            raise SandboxError("BAD_REQUEST", "token must look like '<digits>:<secret>'")
        bot_id = int(match.group(1))
        name = first_name or username
        user = world.add_user(name, username=username, is_bot=True, user_id=bot_id)
    bot = world.bots[user.id] = BotState(user, token, Log(world.history_keep))
    world.bot_tokens[token] = user.id
    return bot


def bot_for_token(world: World, token: str) -> BotState:
    bot_id = world.bot_tokens.get(token)
    if bot_id is None:
        raise BotApiError(401, "Unauthorized")
    return world.bots[bot_id]


def user_json(user: User) -> dict[str, Any]:
    data: dict[str, Any] = {"id": user.id, "is_bot": user.is_bot, "first_name": user.first_name}
    if user.last_name:
        data["last_name"] = user.last_name
    if user.username:
        data["username"] = user.username
    if not user.is_bot:
        data["language_code"] = user.lang
    return data


def chat_json(target: Chat | User) -> dict[str, Any]:
    if isinstance(target, User):
        data = user_json(target)
        return {"type": "private", **{k: data[k] for k in data if k in _PRIVATE_CHAT_KEYS}}
    data = {"id": target.id, "type": target.kind, "title": target.title}
    if target.ref:
        data["username"] = target.ref
    return data


def message_json(bot: BotState, message: Message) -> dict[str, Any]:
    """The message as this bot sees it; in a private chat the chat is the other party."""
    if message.chat is not None:
        where: Chat | User = message.chat
    else:
        assert message.recipient is not None  # noqa: S101 - a DM always has one
        where = message.recipient if message.sender.id == bot.id else message.sender
    data: dict[str, Any] = {
        "message_id": message.message_id,
        "date": int(message.date),
        "chat": chat_json(where),
        "from": user_json(message.sender),
        "text": message.text,
    }
    if message.reply_markup:
        data["reply_markup"] = message.reply_markup
    if message.edit_date:
        data["edit_date"] = message.edit_date
    return data


def push_update(bot: BotState, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """Queue an update unless the bot's allowed_updates filter it out (as Telegram does)."""
    allowed = bot.allowed_updates
    if (allowed and kind not in allowed) or (not allowed and kind in OPT_IN_UPDATES):
        return None
    update = {"update_id": bot.updates.end + 1, kind: payload}
    bot.updates.append(update)
    bot.signal.notify()
    return update


def pending_updates(bot: BotState, offset: int | None, limit: int) -> list[dict[str, Any]]:
    """Confirm everything before ``offset`` (update_id = position + 1) and read what is left."""
    updates = bot.updates
    if offset is not None and offset > 0:
        updates.discard_before(offset - 1)
    elif offset is not None and offset < 0:
        updates.discard_before(updates.end + offset)
    return updates.read(updates.start, limit)[1]


def resolve_target(world: World, bot: BotState, chat_id: int | str) -> Chat | User:
    """Where the bot may write, with Telegram's refusals (blocked, never started, unknown)."""
    if isinstance(chat_id, str) or chat_id < 0:
        chat = world.chat(chat_id)
        if chat is None:
            raise BotApiError.bad_request("chat not found")
        return chat
    user = world.users.get(chat_id)
    if user is None:
        raise BotApiError.bad_request("chat not found")
    if user.is_bot:
        raise BotApiError.forbidden("bot can't send messages to bots")
    if user.id in bot.blocked_by:
        raise BotApiError.forbidden("bot was blocked by the user")
    if user.id not in bot.started:
        raise BotApiError.forbidden("bot can't initiate conversation with a user")
    return user


def check_text(text: str) -> None:
    if not text.strip():
        raise BotApiError.bad_request("message text is empty")
    if len(text) > MAX_TEXT:
        raise BotApiError.bad_request("message is too long")


def send_message(
    world: World, bot: BotState, chat_id: int | str, text: str, markup: dict[str, Any] | None
) -> Message:
    check_text(text)
    target = resolve_target(world, bot, chat_id)
    wait = world.bot_limiter.send(bot.id, target.id, group=isinstance(target, Chat))
    if wait:
        raise BotApiError.too_many(retry_seconds(wait))
    if isinstance(target, Chat):
        return world.post(target, bot.user, text, reply_markup=markup)
    return _private(world, bot, target, bot.user, text, markup)


def _private(
    world: World,
    bot: BotState,
    user: User,
    sender: User,
    text: str,
    markup: dict[str, Any] | None = None,
) -> Message:
    log = bot.chats.setdefault(user.id, Log(world.history_keep))
    recipient = user if sender.id == bot.id else bot.user
    message = Message(log.end + 1, sender, text, world.clock(), recipient=recipient)
    message.reply_markup = markup
    log.append(message)
    return message


def find_message(world: World, bot: BotState, chat_id: int | str, message_id: int) -> Message:
    target = world.chat(chat_id) if isinstance(chat_id, str) or chat_id < 0 else None
    if target is not None:
        message = target.history.get(message_id - 1)
    else:
        log = bot.chats.get(chat_id) if isinstance(chat_id, int) else None
        message = log.get(message_id - 1) if log else None
    if message is None:
        raise BotApiError.bad_request("message to edit not found")
    return message


def edit_message(
    world: World,
    bot: BotState,
    message: Message,
    text: str | None,
    markup: dict[str, Any] | None,
) -> Message:
    """Edit text and/or keyboard; like Telegram, an edit without reply_markup drops the keyboard."""
    if message.sender.id != bot.id:
        raise BotApiError.bad_request("message can't be edited")
    new_text = message.text if text is None else text
    check_text(new_text)
    if new_text == message.text and markup == message.reply_markup:
        raise BotApiError.bad_request(
            "message is not modified: specified new message content and reply markup are "
            "exactly the same as a current content and reply markup of the message"
        )
    message.edit(new_text, markup, int(world.clock()))
    return message


def user_writes(world: World, bot: BotState, user: User, text: str, chat: Chat | None) -> Message:
    """A simulated user writes to the bot (private) or in a group; the bot gets an update."""
    if chat is None:
        bot.started.add(user.id)
        bot.blocked_by.discard(user.id)  # writing to a bot means it is not blocked
        message = _private(world, bot, user, user, text)
    else:
        message = world.post(chat, user, text)
    push_update(bot, "message", message_json(bot, message))
    return message


def press_button(
    world: World, bot: BotState, user: User, chat_id: int | str, message_id: int, data: str
) -> CallbackRecord:
    """A simulated user presses an inline button of a message the bot sent."""
    message = find_message(world, bot, chat_id, message_id)
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    if data not in {button.get("callback_data") for row in rows for button in row}:
        raise SandboxError("BAD_REQUEST", f"the message has no button with callback_data {data!r}")
    record = CallbackRecord(str(secrets.randbits(62)), user.id, message_id, data)
    bot.callbacks[record.id] = record
    payload = {
        "id": record.id,
        "from": user_json(user),
        "chat_instance": str(abs(hash((bot.id, str(chat_id))))),
        "message": message_json(bot, message),
        "data": data,
    }
    push_update(bot, "callback_query", payload)
    return record


def answer_callback(bot: BotState, query_id: str, text: str | None, show_alert: bool) -> None:
    record = bot.callbacks.get(query_id)
    if record is None or record.answered:
        raise BotApiError.bad_request(
            "query is too old and response timeout expired or query ID is invalid"
        )
    record.answered, record.text, record.show_alert = True, text, show_alert
