"""Test and demo endpoints for bots: register one, play a user who writes to it (or replies to
one of its messages) or presses its buttons, block it, read back what it sent and the chats it
has, count its Bot API calls and the 429s it got, and make its next calls fail.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from sandbox import bot_webhook, botworld
from sandbox.admin import PREFIX, ReadQuery, UserCreate, chat_or_404, user_or_404
from sandbox.botworld import BotState
from sandbox.errors import SandboxError
from sandbox.faults import BotFaultRequest, apply_bot_fault
from sandbox.http import json_body, ok, parse, parse_as, runtime
from sandbox.state import Chat, Log, Message, User, World

_BOT_FAULT: TypeAdapter[BotFaultRequest] = TypeAdapter(BotFaultRequest)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BotCreate(_Body):
    username: str = Field(description="the bot's @username")
    first_name: str | None = None
    token: str | None = Field(None, description="use this token (e.g. one from settings)")


class UserMessage(UserCreate):
    """A user (found by user_id, created when unknown) writes ``text`` to the bot."""

    text: str = Field(min_length=1, max_length=4096)
    chat: int | str | None = Field(None, description="a group instead of the private chat")
    reply_to_message_id: int | None = Field(
        None, gt=0, description="answer this message of the same chat (e.g. the bot's alert)"
    )


class ButtonPress(_Body):
    user_id: int
    message_id: int
    data: str
    chat: int | str | None = Field(None, description="the message's chat; private if absent")


class DeleteRequest(_Body):
    user_id: int
    message_id: int
    chat: int | str | None = Field(None, description="a group; the private chat if absent")


class BlockRequest(_Body):
    user_id: int
    blocked: bool = True


def _bot(request: web.Request) -> BotState:
    raw = request.match_info["bot_id"]
    bot = runtime(request).world.bots.get(int(raw)) if raw.isdigit() else None
    if bot is None:
        raise SandboxError("NOT_FOUND", f"no bot {raw}")
    return bot


async def create_bot(request: web.Request) -> web.Response:
    body = parse(BotCreate, await json_body(request))
    bot = botworld.register_bot(runtime(request).world, body.username, body.first_name, body.token)
    return ok(id=bot.id, token=bot.token, username=bot.user.username)


async def user_message(request: web.Request) -> web.Response:
    bot, world = _bot(request), runtime(request).world
    body = parse(UserMessage, await json_body(request))
    user = body.find_or_create(world)
    chat = chat_or_404(world, body.chat) if body.chat is not None else None
    message = botworld.user_writes(world, bot, user, body.text, chat, body.reply_to_message_id)
    bot_webhook.ensure_delivery(runtime(request), bot)
    return ok(user_id=user.id, message=botworld.message_json(bot, message))


async def press_button(request: web.Request) -> web.Response:
    bot, world = _bot(request), runtime(request).world
    body = parse(ButtonPress, await json_body(request))
    user = user_or_404(world, body.user_id)
    chat = body.user_id if body.chat is None else body.chat
    record = botworld.press_button(world, bot, user, chat, body.message_id, body.data)
    bot_webhook.ensure_delivery(runtime(request), bot)
    return ok(callback_query_id=record.id)


async def delete(request: web.Request) -> web.Response:
    """A simulated user deletes a message: any of their private chat with the bot (for both
    sides, as Telegram allows), their own in a group. The bot is not told: no update."""
    bot, world = _bot(request), runtime(request).world
    body = parse(DeleteRequest, await json_body(request))
    user = user_or_404(world, body.user_id)
    chat = chat_or_404(world, body.chat) if body.chat is not None else None
    message = botworld.lookup(bot, chat or user, body.message_id)
    if message is None:
        raise SandboxError("NOT_FOUND", "message to delete not found")
    if chat is not None and message.sender.id != user.id:  # members are no admins here
        raise SandboxError("BAD_REQUEST", "a member deletes only their own messages")
    message.deleted = True
    return ok()


async def callback_answer(request: web.Request) -> web.Response:
    record = _bot(request).callbacks.get(request.match_info["query_id"])
    if record is None:
        raise SandboxError("NOT_FOUND", "no such callback query")
    return ok(answered=record.answered, text=record.text, show_alert=record.show_alert)


async def block(request: web.Request) -> web.Response:
    bot = _bot(request)
    body = parse(BlockRequest, await json_body(request))
    user_or_404(runtime(request).world, body.user_id)
    if body.blocked:
        bot.blocked_by.add(body.user_id)
    else:
        bot.blocked_by.discard(body.user_id)
    return ok()


async def chat_messages(request: web.Request) -> web.Response:
    """Everything in one of the bot's chats (private by user id, or a group), as the bot sees it."""
    bot, world = _bot(request), runtime(request).world
    raw = request.match_info["chat_id"]
    chat_id = int(raw) if raw.lstrip("-").isdigit() else raw
    query = parse(ReadQuery, dict(request.query))
    if isinstance(chat_id, int) and chat_id > 0:
        log = bot.chats.get(chat_id)
        items = log.read(query.since, query.limit)[1] if log else []
    else:
        items = chat_or_404(world, chat_id).history.read(query.since, query.limit)[1]
    return ok(messages=[botworld.message_json(bot, m) for m in items if not m.deleted])


async def bot_info(request: web.Request) -> web.Response:
    """The bot, with its Bot API calls by method and the 429s it was answered (a benchmark's
    "calls made" and "refused"): counted since the bot was registered, never reset."""
    bot = _bot(request)
    return ok(
        id=bot.id,
        username=bot.user.username,
        commands=bot.commands,
        pending_updates=bot.updates.end - bot.updates.start,
        started=sorted(bot.started),
        calls=dict(bot.calls),
        refused=sum(bot.refused.values()),
        refused_by_method=dict(bot.refused),
        faults_pending=len(bot.faults.pending),
    )


async def chats(request: web.Request) -> web.Response:
    """The bot's chats (private ones by user, groups it posted or was written to in)."""
    return ok(chats=_chats_json(runtime(request).world, _bot(request)))


def _chats_json(world: World, bot: BotState) -> list[dict[str, Any]]:
    """The bot's private chats and groups, the most recently active first."""
    rows: list[dict[str, Any]] = []
    places: list[tuple[Chat | User, Log[Message]]] = [
        (world.users[user_id], log) for user_id, log in bot.chats.items()
    ]
    places += [(world.chats[chat_id], world.chats[chat_id].history) for chat_id in bot.groups]
    for where, log in places:
        last = log.get(log.end - 1)
        title = where.full_name if isinstance(where, User) else where.title
        rows.append(
            {
                "chat": botworld.chat_json(where),
                "title": title,
                "last_message_id": last.message_id if last else None,
                "last_message_date": int(last.date) if last else None,
            }
        )
    rows.sort(key=lambda row: row["last_message_date"] or 0, reverse=True)
    return rows


async def inject_fault(request: web.Request) -> web.Response:
    """Make the bot's next calls fail: 429 with retry_after, 500, or a hang; or clear them."""
    bot = _bot(request)
    fault = parse_as(_BOT_FAULT, await json_body(request))
    return ok(pending=apply_bot_fault(bot.faults, fault))


def routes() -> list[web.RouteDef]:
    p = f"{PREFIX}/bots"
    return [
        web.post(p, create_bot),
        web.get(f"{p}/{{bot_id}}", bot_info),
        web.post(f"{p}/{{bot_id}}/messages", user_message),
        web.post(f"{p}/{{bot_id}}/callbacks", press_button),
        web.get(f"{p}/{{bot_id}}/callbacks/{{query_id}}", callback_answer),
        web.post(f"{p}/{{bot_id}}/block", block),
        web.post(f"{p}/{{bot_id}}/delete", delete),
        web.get(f"{p}/{{bot_id}}/chats", chats),
        web.get(f"{p}/{{bot_id}}/chats/{{chat_id}}/messages", chat_messages),
        web.post(f"{p}/{{bot_id}}/faults", inject_fault),
    ]
