"""What a person does in the web view: write (or reply) as the conversation's simulated user,
press an inline button, and start a new chat with a bot as a new user.

Each goes through the world functions the ``/_sandbox`` test endpoints use, so a bot sees exactly
what it would see from a test: a ``message`` update, or a ``callback_query`` whose answer the
page reads back from ``/_sandbox/bots/{id}/callbacks/{query id}``.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from sandbox import botworld
from sandbox.botworld import BotState
from sandbox.errors import SandboxError
from sandbox.http import json_body, ok, parse, runtime
from sandbox.state import Chat, Message, User, World
from sandbox.webview_model import Conversation, message_view

Opener = Callable[[web.Request], Conversation]
MAX_TEXT = 4096  # Telegram's limit on a message's text


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WriteRequest(_Body):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    reply_to: int | None = Field(None, ge=1, description="the message id this one answers")
    as_user: int | None = Field(None, description="in a group: who writes (a new person if absent)")


class PressRequest(_Body):
    message_id: int = Field(ge=1)
    data: str = Field(min_length=1, max_length=64)
    as_user: int | None = Field(None, description="in a group: who presses")


class NewChatRequest(_Body):
    first_name: str = Field(min_length=1, max_length=64)
    username: str | None = Field(None, description="optional @username of the new user")
    text: str = Field("/start", min_length=1, max_length=MAX_TEXT)


def _message(found: Conversation, message_id: int) -> Message:
    messages = found.timeline.before(message_id + 1, 1)
    if not messages or messages[0].message_id != message_id:
        raise SandboxError("NOT_FOUND", f"no message {message_id} in this chat")
    return messages[0]


def _group_person(request: web.Request, as_user: int | None) -> User:
    """The person the page plays in a group: the one chosen, or a new member of the audience."""
    rt = runtime(request)
    if as_user is None:
        return rt.audience.new_person()
    user = rt.world.users.get(as_user)
    if user is None or user.is_bot or as_user in rt.world.accounts:
        raise SandboxError("BAD_REQUEST", "as_user: not a simulated person")
    return user


def _group_bots(world: World, chat: Chat, replied: Message | None) -> list[BotState]:
    """Bots that take part in a group (posted or were written to there), the replied-to one
    first: it is the one a reply is for."""
    members = [bot for bot in world.bots.values() if chat.id in bot.groups]
    first = world.bots.get(replied.sender.id) if replied is not None else None
    return ([first] if first is not None else []) + [b for b in members if b is not first]


def _write_in_group(
    request: web.Request, found: Conversation, body: WriteRequest, replied: Message | None
) -> Message:
    world = runtime(request).world
    chat = world.chats[found.chat_id] if found.chat_id is not None else None
    assert isinstance(chat, Chat)  # noqa: S101 - a group conversation always names its chat
    person = _group_person(request, body.as_user)
    bots = _group_bots(world, chat, replied)
    if not bots:
        return world.post(chat, person, body.text, reply_to=replied)
    message = botworld.user_writes(world, bots[0], person, body.text, chat, body.reply_to)
    for other in bots[1:]:  # every bot in the group sees the message, as with privacy mode off
        botworld.push_update(other, "message", botworld.message_json(other, message))
    return message


def write(request: web.Request, found: Conversation, body: WriteRequest) -> Message:
    """Write as the conversation's person; a reply names a message of the same conversation."""
    world = runtime(request).world
    replied = _message(found, body.reply_to) if body.reply_to is not None else None
    if found.kind == "group":
        return _write_in_group(request, found, body, replied)
    assert found.me is not None  # noqa: S101 - DMs and bot chats have a fixed person
    if found.kind == "bot":
        assert found.bot is not None  # noqa: S101 - a bot chat has its bot
        return botworld.user_writes(world, found.bot, found.me, body.text, None, body.reply_to)
    assert found.account is not None  # noqa: S101 - a DM has its account
    return world.deliver_dm(found.me, found.account, body.text, reply_to=replied)


def press(request: web.Request, found: Conversation, body: PressRequest) -> tuple[int, str]:
    """Press a button of a bot's message; returns the bot's id and the callback query's id."""
    world = runtime(request).world
    message = _message(found, body.message_id)
    bot = world.bots.get(message.sender.id)
    if bot is None or found.kind == "dm":
        raise SandboxError("BAD_REQUEST", "only a bot's messages have buttons to press")
    person = _group_person(request, body.as_user) if found.kind == "group" else found.me
    chat_id = found.chat_id
    assert person is not None and chat_id is not None  # noqa: S101 - set for bots and groups
    record = botworld.press_button(world, bot, person, chat_id, message.message_id, body.data)
    return bot.id, record.id


async def _json(request: web.Request) -> object:
    """The body, refused unless sent as JSON: a page elsewhere can post a form or plain text to
    127.0.0.1 without asking, but not JSON, so no other site can act as the page's user."""
    if request.content_type != "application/json":
        raise SandboxError("BAD_REQUEST", "send the body as application/json")
    return await json_body(request)


def routes(prefix: str, opener: Opener) -> list[web.RouteDef]:
    async def write_route(request: web.Request) -> web.Response:
        found = opener(request)
        body = parse(WriteRequest, await _json(request))
        return ok(message=message_view(write(request, found, body)))

    async def press_route(request: web.Request) -> web.Response:
        found = opener(request)
        bot_id, query_id = press(request, found, parse(PressRequest, await _json(request)))
        answer = f"/_sandbox/bots/{bot_id}/callbacks/{query_id}"
        return ok(bot_id=bot_id, callback_query_id=query_id, answer_url=answer)

    return [
        web.post(f"{prefix}/chats/{{key}}/messages", write_route),
        web.post(f"{prefix}/chats/{{key}}/press", press_route),
        web.post(f"{prefix}/bots/{{bot_id}}/chats", new_chat),
    ]


async def new_chat(request: web.Request) -> web.Response:
    """A new simulated user writes to a bot (``/start CODE`` links a newcomer); the page opens
    the chat it returns."""
    world = runtime(request).world
    raw = request.match_info["bot_id"]
    bot = world.bots.get(int(raw)) if raw.isdigit() else None
    if bot is None:
        raise SandboxError("NOT_FOUND", f"no bot {raw}")
    body = parse(NewChatRequest, await _json(request))
    user = world.add_user(body.first_name, username=body.username or None)
    botworld.user_writes(world, bot, user, body.text, None)
    return ok(key=f"b_{bot.id}_{user.id}", user=user.profile_json())
