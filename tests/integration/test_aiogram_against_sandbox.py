"""An unchanged aiogram Bot talks to the sandbox over real HTTP, as the demo's notifier does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

from sandbox.bootstrap import RunningSandbox

OPERATOR = 777_001


@pytest.fixture
async def admin(sandbox: RunningSandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sandbox.url) as session:
        yield session


async def call(http: aiohttp.ClientSession, method: str, path: str, **body: Any) -> Any:
    async with http.request(method, path, json=body or None) as response:
        data = await response.json()
        assert data["ok"], data
        return data


@pytest.fixture
async def registered(admin: aiohttp.ClientSession) -> dict[str, Any]:
    bot = await call(admin, "POST", "/_sandbox/bots", username="notifier_bot", first_name="Notify")
    # the operator presses /start, as a real one must before a bot may write to them
    path = f"/_sandbox/bots/{bot['id']}/messages"
    await call(admin, "POST", path, user_id=OPERATOR, first_name="Olga", text="/start")
    return dict(bot)


def make_bot(sandbox: RunningSandbox, token: str) -> Bot:
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(sandbox.url)))


@pytest.fixture
async def bot(sandbox: RunningSandbox, registered: dict[str, Any]) -> AsyncIterator[Bot]:
    client = make_bot(sandbox, registered["token"])
    yield client
    await client.session.close()


def keyboard() -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(text="Approve", callback_data="approve:1"),
        InlineKeyboardButton(text="Reject", callback_data="reject:1"),
    ]
    return InlineKeyboardMarkup(inline_keyboard=[buttons])


async def test_get_me_describes_the_registered_bot(bot: Bot, registered: dict[str, Any]) -> None:
    me = await bot.get_me()

    assert me.id == registered["id"] == bot.id
    assert me.is_bot and me.username == "notifier_bot" and me.first_name == "Notify"


async def test_sent_message_can_be_read_back_through_the_test_endpoint(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    sent = await bot.send_message(
        OPERATOR, "New lead: Анна ищет разработчика", reply_markup=keyboard()
    )

    assert sent.chat.id == OPERATOR and sent.chat.type == "private" and sent.message_id > 0
    chat = await call(admin, "GET", f"/_sandbox/bots/{registered['id']}/chats/{OPERATOR}/messages")
    last = chat["messages"][-1]
    assert last["text"] == "New lead: Анна ищет разработчика"
    assert last["from"]["id"] == registered["id"]
    assert last["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "approve:1"


async def test_get_updates_returns_a_user_message_and_the_offset_confirms_it(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    updates = await bot.get_updates(timeout=1)
    assert [u.message.text for u in updates if u.message] == ["/start"]

    confirmed = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)

    assert confirmed == []
    info = await call(admin, "GET", f"/_sandbox/bots/{registered['id']}")
    assert info["pending_updates"] == 0


async def test_long_poll_returns_as_soon_as_a_user_writes(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    first = await bot.get_updates(timeout=0)
    poll = asyncio.create_task(bot.get_updates(offset=first[-1].update_id + 1, timeout=10))
    await asyncio.sleep(0.2)
    assert not poll.done()

    path = f"/_sandbox/bots/{registered['id']}/messages"
    await call(admin, "POST", path, user_id=OPERATOR, text="/leads")
    updates = await asyncio.wait_for(poll, 2)

    assert [u.message.text for u in updates if u.message] == ["/leads"]
    assert updates[0].message is not None and updates[0].message.from_user is not None
    assert updates[0].message.from_user.first_name == "Olga"


async def test_inline_button_press_round_trips_through_answer_callback_query(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    sent = await bot.send_message(OPERATOR, "Draft #1 waiting", reply_markup=keyboard())
    done = await bot.get_updates(timeout=0)
    press = {"user_id": OPERATOR, "message_id": sent.message_id, "data": "approve:1"}
    pressed = await call(admin, "POST", f"/_sandbox/bots/{registered['id']}/callbacks", **press)

    updates = await bot.get_updates(offset=done[-1].update_id + 1, timeout=1)
    query = updates[0].callback_query
    assert query is not None and query.data == "approve:1" and query.from_user.id == OPERATOR
    assert isinstance(query.message, Message) and query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query.id, text="Approved") is True

    path = f"/_sandbox/bots/{registered['id']}/callbacks/{pressed['callback_query_id']}"
    answer = await call(admin, "GET", path)
    assert answer["answered"] and answer["text"] == "Approved"
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query(query.id)


async def test_edits_change_the_message_and_a_no_op_edit_is_refused(bot: Bot) -> None:
    sent = await bot.send_message(OPERATOR, "Draft #2 waiting", reply_markup=keyboard())

    edited = await bot.edit_message_text(
        text="Draft #2 approved", chat_id=OPERATOR, message_id=sent.message_id
    )
    assert isinstance(edited, Message) and edited.text == "Draft #2 approved"
    assert edited.reply_markup is None  # Telegram drops the keyboard unless it is sent again
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            text="Draft #2 approved", chat_id=OPERATOR, message_id=sent.message_id
        )
    again = await bot.edit_message_reply_markup(
        chat_id=OPERATOR, message_id=sent.message_id, reply_markup=keyboard()
    )
    assert isinstance(again, Message) and again.reply_markup is not None
    assert again.reply_markup.inline_keyboard[0][1].callback_data == "reject:1"


async def test_exceeding_the_per_chat_limit_raises_telegram_retry_after(bot: Bot) -> None:
    with pytest.raises(TelegramRetryAfter) as refused:
        for number in range(10):
            await bot.send_message(OPERATOR, f"alert {number}")

    assert refused.value.retry_after > 0


async def test_a_user_who_blocked_the_bot_raises_forbidden(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    await call(admin, "POST", f"/_sandbox/bots/{registered['id']}/block", user_id=OPERATOR)

    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(OPERATOR, "anyone there?")


async def test_a_user_who_never_started_the_bot_cannot_be_written_to(
    bot: Bot, admin: aiohttp.ClientSession
) -> None:
    stranger = await call(admin, "POST", "/_sandbox/users", first_name="Ivan")

    with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
        await bot.send_message(stranger["profile"]["user_id"], "hello")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(123_456_789, "hello")


async def test_a_bad_token_raises_unauthorized(sandbox: RunningSandbox) -> None:
    impostor = make_bot(sandbox, "42:not-a-real-token")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await impostor.get_me()
    finally:
        await impostor.session.close()


async def test_commands_chat_action_and_get_chat_are_accepted(bot: Bot) -> None:
    from aiogram.types import BotCommand

    assert await bot.set_my_commands([BotCommand(command="leads", description="New leads")])
    assert await bot.send_chat_action(OPERATOR, "typing") is True
    chat = await bot.get_chat(OPERATOR)
    assert chat.id == OPERATOR and chat.type == "private" and chat.first_name == "Olga"
    assert await bot.delete_webhook(drop_pending_updates=True) is True


async def test_dispatcher_polling_hands_a_user_message_to_a_handler(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    seen: list[str] = []
    handled = asyncio.Event()
    router = Router()

    @router.message()
    async def on_message(message: Message) -> None:
        seen.append(message.text or "")
        if message.text == "ping":
            await message.answer("pong")
            handled.set()

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)
    )
    try:
        path = f"/_sandbox/bots/{registered['id']}/messages"
        await call(admin, "POST", path, user_id=OPERATOR, text="ping")
        await asyncio.wait_for(handled.wait(), 5)
    finally:
        await dispatcher.stop_polling()
        await asyncio.wait_for(polling, 5)

    assert seen == ["/start", "ping"]
    chat = await call(admin, "GET", f"/_sandbox/bots/{registered['id']}/chats/{OPERATOR}/messages")
    assert chat["messages"][-1]["text"] == "pong"
