"""Bots in the world: their update queues, private chats, callbacks, and what Telegram refuses.

Serialisation follows the Bot API object shapes (User, Chat, Message, CallbackQuery, Update), so
aiogram validates them into its own types unchanged.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sandbox.bot_html import Entity, FormattedText
from sandbox.errors import BotApiError, SandboxError
from sandbox.faults import BotFaults
from sandbox.limits import retry_seconds
from sandbox.state import Chat, Log, Message, Signal, User, World

if TYPE_CHECKING:
    from sandbox.bot_webhook import Webhook

_TOKEN = re.compile(r"^(\d{1,15}):[A-Za-z0-9_-]{5,}$")
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
    groups: set[int] = field(default_factory=set)  # groups it posted in or was written to in
    faults: BotFaults = field(default_factory=BotFaults)
    calls: Counter[str] = field(default_factory=Counter)  # Bot API calls by method
    refused: Counter[str] = field(default_factory=Counter)  # 429s answered (limits or faults)
    webhook: Webhook | None = None  # set by setWebhook: updates are posted, not polled

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


def chat_of(bot: BotState, message: Message) -> Chat | User:
    """Where the message is as this bot sees it: a group, or the other party of a DM."""
    if message.chat is not None:
        return message.chat
    assert message.recipient is not None  # noqa: S101 - a DM always has one
    return message.recipient if message.sender.id == bot.id else message.sender


def message_json(bot: BotState, message: Message, *, with_reply: bool = True) -> dict[str, Any]:
    """The message as this bot sees it; in a private chat the chat is the other party.

    The replied message is nested one level deep only, as Telegram does: a reply_to_message
    carries no reply_to_message of its own.
    """
    data: dict[str, Any] = {
        "message_id": message.message_id,
        "date": int(message.date),
        "chat": chat_json(chat_of(bot, message)),
        "from": user_json(message.sender),
        "text": message.text,
    }
    if message.entities:
        data["entities"] = message.entities
    if with_reply and message.reply_to is not None and not message.reply_to.deleted:
        data["reply_to_message"] = message_json(bot, message.reply_to, with_reply=False)
    if message.reply_markup:
        data["reply_markup"] = message.reply_markup
    if message.edit_date:
        data["edit_date"] = message.edit_date
    return data


def entities_json(world: World, entities: tuple[Entity, ...]) -> list[dict[str, Any]]:
    """Bot API MessageEntity objects; a mention of a user the world does not know is dropped."""
    result: list[dict[str, Any]] = []
    for entity in entities:
        data: dict[str, Any] = {
            "offset": entity.offset,
            "length": entity.length,
            "type": entity.type,
        }
        if entity.user_id is not None:
            user = world.users.get(entity.user_id)
            if user is None:
                continue
            data["user"] = user_json(user)
        optional = {
            "url": entity.url,
            "language": entity.language,
            "custom_emoji_id": entity.custom_emoji_id,
        }
        data.update({key: value for key, value in optional.items() if value is not None})
        result.append(data)
    return result


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


@dataclass(frozen=True, slots=True)
class ReplyTo:
    """``reply_parameters`` (or the older ``reply_to_message_id``) of a bot's message."""

    message_id: int
    allow_sending_without_reply: bool = False


def send_message(
    world: World,
    bot: BotState,
    chat_id: int | str,
    text: FormattedText,
    markup: dict[str, Any] | None,
    reply: ReplyTo | None = None,
) -> Message:
    """The bot sends already-formatted text (``bot_text.format_text``), maybe as a reply."""
    target = resolve_target(world, bot, chat_id)
    replied = _replied(bot, target, reply)
    wait = world.bot_limiter.send(bot.id, target.id, group=isinstance(target, Chat))
    if wait:
        raise BotApiError.too_many(retry_seconds(wait))
    entities = entities_json(world, text.entities)
    if isinstance(target, Chat):
        bot.groups.add(target.id)
        return world.post(
            target, bot.user, text.text, reply_markup=markup, entities=entities, reply_to=replied
        )
    return _private(world, bot, target, bot.user, text.text, markup, entities, replied)


def _replied(bot: BotState, target: Chat | User, reply: ReplyTo | None) -> Message | None:
    if reply is None:
        return None
    message = lookup(bot, target, reply.message_id)
    if message is None and not reply.allow_sending_without_reply:
        raise BotApiError.bad_request("message to be replied not found")
    return message


def lookup(bot: BotState, where: Chat | User, message_id: int) -> Message | None:
    """A message of a group, or of the bot's private chat with a user, by its id."""
    if isinstance(where, Chat):
        message = where.history.get(message_id - 1)
    else:
        log = bot.chats.get(where.id)
        message = log.get(message_id - 1) if log else None
    return None if message is None or message.deleted else message


def _private(
    world: World,
    bot: BotState,
    user: User,
    sender: User,
    text: str,
    markup: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    reply_to: Message | None = None,
) -> Message:
    log = bot.chats.setdefault(user.id, Log(world.history_keep))
    recipient = user if sender.id == bot.id else bot.user
    message = Message(log.end + 1, sender, text, world.clock(), recipient=recipient)
    message.reply_markup, message.entities, message.reply_to = markup, entities or [], reply_to
    log.append(message)
    return message


def _where(world: World, chat_id: int | str) -> Chat | User | None:
    if isinstance(chat_id, str) or chat_id < 0:
        return world.chat(chat_id)
    return world.users.get(chat_id)


def find_message(
    world: World, bot: BotState, chat_id: int | str, message_id: int, *, to: str = "edit"
) -> Message:
    where = _where(world, chat_id)
    message = lookup(bot, where, message_id) if where is not None else None
    if message is None:
        raise BotApiError.bad_request(f"message to {to} not found")
    return message


def delete_message(world: World, bot: BotState, chat_id: int | str, message_id: int) -> None:
    """deleteMessage: a bot that is no group admin deletes its own messages, and in a private
    chat the user's too."""
    message = find_message(world, bot, chat_id, message_id, to="delete")
    if message.chat is not None and message.sender.id != bot.id:
        raise BotApiError.bad_request("message can't be deleted")
    message.deleted = True


def edit_message(
    world: World,
    bot: BotState,
    message: Message,
    text: FormattedText | None,
    markup: dict[str, Any] | None,
) -> Message:
    """Edit text and/or keyboard; like Telegram, an edit without reply_markup drops the keyboard.

    "Not modified" compares what Telegram stores: the parsed text, its entities and the
    keyboard. An edit spends a token of the chat's per-second bucket and of the bot's global
    one, like a send, but not of a group's 20-a-minute bucket: Telegram publishes no edit
    limits, and an edit storm into one chat is what its flood control stops.
    """
    if message.sender.id != bot.id:
        raise BotApiError.bad_request("message can't be edited")
    new_text, entities = message.text, message.entities
    if text is not None:
        new_text, entities = text.text, entities_json(world, text.entities)
    if (new_text, entities, markup) == (message.text, message.entities, message.reply_markup):
        raise BotApiError.bad_request(
            "message is not modified: specified new message content and reply markup are "
            "exactly the same as a current content and reply markup of the message"
        )
    wait = world.bot_limiter.send(bot.id, chat_of(bot, message).id, group=False)
    if wait:
        raise BotApiError.too_many(retry_seconds(wait))
    message.edit(new_text, markup, int(world.clock()), entities)
    return message


def user_writes(
    world: World,
    bot: BotState,
    user: User,
    text: str,
    chat: Chat | None,
    reply_to_message_id: int | None = None,
) -> Message:
    """A simulated user writes to the bot (private) or in a group; the bot gets an update.

    ``reply_to_message_id`` makes it a reply to any message of that chat (the bot's alert an
    operator answers, say); one that does not exist is refused.
    """
    replied = None
    if reply_to_message_id is not None:
        replied = lookup(bot, chat or user, reply_to_message_id)
        if replied is None:
            raise SandboxError("BAD_REQUEST", "message to be replied not found")
    if chat is None:
        bot.started.add(user.id)
        bot.blocked_by.discard(user.id)  # writing to a bot means it is not blocked
        message = _private(world, bot, user, user, text, reply_to=replied)
    else:
        bot.groups.add(chat.id)
        message = world.post(chat, user, text, reply_to=replied)
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
