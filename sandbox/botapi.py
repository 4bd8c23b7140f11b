"""The Bot API subset aiogram uses: ``POST /bot{token}/{method}`` with form data (or JSON).

aiogram sends every parameter as a form field; lists and objects (reply_markup, allowed_updates,
commands) arrive as JSON strings and falsy values are left out, so every optional parameter has
a default here. Answers use Telegram's envelope and HTTP statuses, which pick aiogram's exception.

Texts go through ``bot_text`` (parse_mode=HTML, explicit entities, Telegram's refusals); every
call is counted per bot and method, 429s answered too, and may first meet a fault queued for it
(``sandbox.faults.BotFaults``: 429, 500 or a hang). Webhook mode lives in ``bot_webhook``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from sandbox import bot_webhook, botworld
from sandbox.bot_entities import read_entities
from sandbox.bot_html import FormattedText
from sandbox.bot_links import LinkRefused, check_link, link_user_id
from sandbox.bot_text import format_text
from sandbox.botworld import BotState
from sandbox.errors import BotApiError
from sandbox.faults import PendingBotFault
from sandbox.http import Runtime, dumps, runtime
from sandbox.state import Chat, Message, User

MAX_POLL_SECONDS = 60
CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"  # noqa: E501 - Telegram's exact text


def _from_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError("must be a JSON-serialized value") from None
    return value


def _chat_id(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value


class InlineButton(BaseModel):
    model_config = ConfigDict(extra="allow")

    text: str = Field(min_length=1)
    callback_data: str | None = Field(None, min_length=1)
    url: str | None = None

    @field_validator("callback_data")
    @classmethod
    def _fits(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode()) > 64:
            raise ValueError("BUTTON_DATA_INVALID: callback_data is longer than 64 bytes")
        return value


class InlineKeyboard(BaseModel):
    inline_keyboard: list[list[InlineButton]]


def _check_markup(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value and "inline_keyboard" in value:
        InlineKeyboard.model_validate(value)
        for row in value["inline_keyboard"]:
            for button in row:
                if isinstance(button.get("url"), str):
                    button["url"] = _button_url(button["url"])
    return value or None


def _button_url(url: str) -> str:
    """A URL button's link as Telegram stores it (normalised); one Telegram cannot check, such
    as ``http://localhost:8000/x`` (no dot in the host), refuses the whole message.

    Raised as BotApiError, which pydantic lets through, so the answer is Telegram's own text.
    """
    if link_user_id(url) is not None:
        return url
    try:
        return check_link(url)
    except LinkRefused as exc:
        raise BotApiError.bad_request(
            f"inline keyboard button URL '{url}' is invalid: {exc}"
        ) from None


ChatId = Annotated[int | str, BeforeValidator(_chat_id)]
Markup = Annotated[
    dict[str, Any] | None, BeforeValidator(_from_json), AfterValidator(_check_markup)
]


class Params(BaseModel):
    model_config = ConfigDict(extra="ignore")


P = TypeVar("P", bound=Params)


class GetUpdates(Params):
    offset: int | None = None
    limit: int = Field(100, ge=1, le=100)
    timeout: int = Field(0, ge=0, le=MAX_POLL_SECONDS)
    allowed_updates: Annotated[list[str] | None, BeforeValidator(_from_json)] = None


class ReplyParameters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message_id: int
    allow_sending_without_reply: bool = False


class Formatted(Params):
    """A text and how to read it: ``parse_mode``, or ``entities`` given outright."""

    text: str = ""
    parse_mode: str | None = None
    entities: Annotated[Any, BeforeValidator(_from_json)] = None

    def formatted(self) -> FormattedText:
        plain = (self.parse_mode or "").lower() in ("", "none")
        explicit = read_entities(self.entities) if plain and self.entities else ()
        return format_text(self.text, self.parse_mode, explicit)


class SendMessage(Formatted):
    chat_id: ChatId
    reply_markup: Markup = None
    reply_parameters: Annotated[ReplyParameters | None, BeforeValidator(_from_json)] = None
    reply_to_message_id: int | None = None  # before Bot API 7.0; aiogram still accepts it
    allow_sending_without_reply: bool = False

    def reply(self) -> botworld.ReplyTo | None:
        """reply_parameters win over the older reply_to_message_id, as in Telegram."""
        if self.reply_parameters is not None:
            params = self.reply_parameters
            return botworld.ReplyTo(params.message_id, params.allow_sending_without_reply)
        if self.reply_to_message_id:
            return botworld.ReplyTo(self.reply_to_message_id, self.allow_sending_without_reply)
        return None


class EditTarget(Params):
    chat_id: ChatId | None = None
    message_id: int | None = None
    inline_message_id: str | None = None
    reply_markup: Markup = None


class EditMessageText(EditTarget, Formatted):
    pass


class DeleteMessage(Params):
    chat_id: ChatId
    message_id: int


class AnswerCallbackQuery(Params):
    callback_query_id: str
    text: str | None = None
    show_alert: bool = False


class ChatOnly(Params):
    chat_id: ChatId


class BotCommand(BaseModel):
    command: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")
    description: str = Field(min_length=1, max_length=256)


class SetMyCommands(Params):
    commands: Annotated[list[BotCommand], BeforeValidator(_from_json)]


def parse(model: type[P], data: dict[str, Any]) -> P:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "parameters"
        if error["type"] == "missing":
            raise BotApiError.bad_request(f"{where} is empty") from None
        raise BotApiError.bad_request(f"{where}: {error['msg']}") from None


async def get_me(rt: Runtime, bot: BotState, raw: dict[str, Any]) -> Any:
    flags = {"can_join_groups": True, "can_read_all_group_messages": False}
    return botworld.user_json(bot.user) | flags | {"supports_inline_queries": False}


async def get_updates(rt: Runtime, bot: BotState, raw: dict[str, Any]) -> Any:
    """Long poll; a newer getUpdates for the same bot ends an older one with 409, like Telegram."""
    params = parse(GetUpdates, raw)
    bot_webhook.check_polling_allowed(bot)
    if params.allowed_updates is not None:
        bot.allowed_updates = params.allowed_updates
    bot.poll_generation += 1
    generation = bot.poll_generation
    bot.signal.notify()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + params.timeout
    while True:
        if bot.poll_generation != generation:
            raise BotApiError(409, CONFLICT)
        updates = botworld.pending_updates(bot, params.offset, params.limit)
        remaining = deadline - loop.time()
        if updates or remaining <= 0 or rt.stopping:
            return updates
        await bot.signal.wait(remaining)


async def send_message(rt: Runtime, bot: BotState, raw: dict[str, Any]) -> Any:
    params = parse(SendMessage, raw)
    text = params.formatted()  # refused before the chat is looked at, as by Telegram
    sent = botworld.send_message(
        rt.world, bot, params.chat_id, text, params.reply_markup, params.reply()
    )
    return botworld.message_json(bot, sent)


def _edit_target(rt: Runtime, bot: BotState, params: EditTarget) -> Message:
    if params.inline_message_id is not None:
        raise BotApiError.bad_request("MESSAGE_ID_INVALID")  # no inline mode in the sandbox
    if params.chat_id is None or params.message_id is None:
        raise BotApiError.bad_request("chat_id and message_id are required")
    return botworld.find_message(rt.world, bot, params.chat_id, params.message_id)


async def edit_message_text(rt: Runtime, bot: BotState, raw: dict[str, Any]) -> Any:
    params = parse(EditMessageText, raw)
    text = params.formatted()
    message = _edit_target(rt, bot, params)
    edited = botworld.edit_message(rt.world, bot, message, text, params.reply_markup)
    return botworld.message_json(bot, edited)


async def edit_message_reply_markup(rt: Runtime, bot: BotState, raw: dict[str, Any]) -> Any:
    params = parse(EditTarget, raw)
    message = _edit_target(rt, bot, params)
    edited = botworld.edit_message(rt.world, bot, message, None, params.reply_markup)
    return botworld.message_json(bot, edited)


async def delete_message(rt: Runtime, bot: BotState, raw: dict[str, Any]) -> Any:
    params = parse(DeleteMessage, raw)
    botworld.delete_message(rt.world, bot, params.chat_id, params.message_id)
    return True


async def answer_callback_query(rt: Runtime, bot: BotState, raw: dict[str, Any]) -> Any:
    params = parse(AnswerCallbackQuery, raw)
    botworld.answer_callback(bot, params.callback_query_id, params.text, params.show_alert)
    return True


async def send_chat_action(rt: Runtime, bot: BotState, raw: dict[str, Any]) -> Any:
    if not raw.get("action"):
        raise BotApiError.bad_request("action is empty")
    botworld.resolve_target(rt.world, bot, parse(ChatOnly, raw).chat_id)
    return True


async def set_my_commands(rt: Runtime, bot: BotState, raw: dict[str, Any]) -> Any:
    bot.commands = [c.model_dump() for c in parse(SetMyCommands, raw).commands]
    return True


async def get_chat(rt: Runtime, bot: BotState, raw: dict[str, Any]) -> Any:
    chat_id = parse(ChatOnly, raw).chat_id
    world = rt.world
    target: Chat | User | None
    if isinstance(chat_id, str) or chat_id < 0:
        target = world.chat(chat_id)
    else:
        target = world.users.get(chat_id)
    if target is None:
        raise BotApiError.bad_request("chat not found")
    info = botworld.chat_json(target)
    if isinstance(target, User) and target.bio:
        info["bio"] = target.bio
    gifts = dict.fromkeys(
        ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription"), False
    )
    gifts["gifts_from_channels"] = False
    return info | {"accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}


Method = Callable[[Runtime, BotState, dict[str, Any]], Awaitable[Any]]
_BY_NAME: dict[str, Method] = {
    "getMe": get_me,
    "getUpdates": get_updates,
    "setWebhook": bot_webhook.set_webhook,
    "deleteWebhook": bot_webhook.delete_webhook,
    "getWebhookInfo": bot_webhook.get_webhook_info,
    "sendMessage": send_message,
    "editMessageText": edit_message_text,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "answerCallbackQuery": answer_callback_query,
    "sendChatAction": send_chat_action,
    "setMyCommands": set_my_commands,
    "getChat": get_chat,
}
# Telegram matches method names in any case; the counters use the documented spelling
METHODS: dict[str, tuple[str, Method]] = {
    name.lower(): (name, method) for name, method in _BY_NAME.items()
}


async def read_params(request: web.Request) -> dict[str, Any]:
    """Query string, then a JSON body or form fields (file parts are ignored)."""
    params: dict[str, Any] = dict(request.query)
    if not request.can_read_body:
        return params
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise BotApiError.bad_request("can't parse JSON body") from None
        if not isinstance(body, dict):
            raise BotApiError.bad_request("the JSON body must be an object")
        params.update(body)
    else:
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


async def handle(request: web.Request) -> web.Response:
    rt = runtime(request)
    bot = botworld.bot_for_token(rt.world, request.match_info["token"])
    asked = request.match_info["method"]
    name, method = METHODS.get(asked.lower(), (asked, None))
    bot.calls[name] += 1
    bot_webhook.ensure_delivery(rt, bot)  # after a sandbox restart, updates flow again
    try:
        if method is None:
            raise BotApiError(404, "Not Found")
        params = await read_params(request)
        if (fault := bot.faults.take(name, params.get("chat_id"))) is not None:
            await _meet(fault)
        result = await method(rt, bot, params)
    except BotApiError as exc:
        if exc.status == 429:
            bot.refused[name] += 1
        raise
    return web.json_response({"ok": True, "result": result}, dumps=dumps)


async def _meet(fault: PendingBotFault) -> None:
    """An injected fault: a 429 or a 500 instead of the answer, or the answer late."""
    if fault.kind == "retry_after":
        raise BotApiError.too_many(int(fault.seconds))
    if fault.kind == "server_error":
        raise BotApiError(500, "Internal Server Error")
    await asyncio.sleep(fault.seconds)


def routes() -> list[web.RouteDef]:
    return [web.route("*", "/bot{token}/{method}", handle)]
