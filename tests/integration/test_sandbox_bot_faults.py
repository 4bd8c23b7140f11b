"""The real aiogram against the sandbox's flood control and injected failures: edit storms,
the group limit, 429 / 500 / hangs queued per method or chat, the counters a benchmark reads,
and the bot's chat list."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter, TelegramServerError

from sandbox.bootstrap import RunningSandbox
from sandbox.limits import BotLimitsConfig, LimitsConfig
from tests.integration.sandbox_bots import aiogram_bot, bot_path, call, started_bot

OPERATOR = 777_002


@pytest.fixture
async def admin(sandbox: RunningSandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sandbox.url) as session:
        yield session


@pytest.fixture
async def registered(admin: aiohttp.ClientSession) -> dict[str, Any]:
    return await started_bot(admin, "alerts_bot", OPERATOR)


@pytest.fixture
async def bot(sandbox: RunningSandbox, registered: dict[str, Any]) -> AsyncIterator[Bot]:
    client = aiogram_bot(sandbox, registered["token"])
    yield client
    await client.session.close()


async def test_an_edit_storm_into_one_chat_gets_429_with_retry_after(bot: Bot) -> None:
    sent = await bot.send_message(OPERATOR, "0 new leads")

    with pytest.raises(TelegramRetryAfter) as refused:
        for count in range(1, 10):
            await bot.edit_message_text(
                text=f"{count} new leads", chat_id=OPERATOR, message_id=sent.message_id
            )

    assert refused.value.retry_after >= 1


async def test_edits_in_a_group_do_not_spend_its_twenty_a_minute(
    sandbox: RunningSandbox, bot: Bot, admin: aiohttp.ClientSession
) -> None:
    sandbox.world.set_limits(
        LimitsConfig(bot=BotLimitsConfig(per_chat_burst=100, group_per_minute=2))
    )
    group = await call(admin, "POST", "/_sandbox/chats", ref="ops_room", title="Operators")
    chat_id = group["chat"]["chat_id"]
    sent = await bot.send_message(chat_id, "1 lead")

    for count in range(2, 8):
        await bot.edit_message_text(
            text=f"{count} leads", chat_id=chat_id, message_id=sent.message_id
        )
    await bot.send_message(chat_id, "second post")  # the group's second of two a minute

    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(chat_id, "third post")


async def test_an_injected_429_raises_retry_after_and_is_counted(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    fault = {"kind": "retry_after", "method": "sendMessage", "seconds": 7, "count": 2}
    await call(admin, "POST", bot_path(registered, "/faults"), **fault)

    for _ in range(2):
        with pytest.raises(TelegramRetryAfter) as refused:
            await bot.send_message(OPERATOR, "alert")
        assert refused.value.retry_after == 7
    await bot.get_me()  # other methods are untouched
    await bot.send_message(OPERATOR, "alert")  # the third call goes through

    info = await call(admin, "GET", bot_path(registered))
    assert info["calls"] == {"sendMessage": 3, "getMe": 1}
    assert info["refused"] == 2 and info["refused_by_method"] == {"sendMessage": 2}
    assert info["faults_pending"] == 0


async def test_a_fault_aimed_at_one_chat_leaves_the_others_alone(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    group = await call(admin, "POST", "/_sandbox/chats", ref="ops_room", title="Operators")
    chat_id = group["chat"]["chat_id"]
    fault = {"kind": "retry_after", "seconds": 30, "chat_id": chat_id, "count": 5}
    await call(admin, "POST", bot_path(registered, "/faults"), **fault)

    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(chat_id, "to the group")
    sent = await bot.send_message(OPERATOR, "to the operator")

    assert sent.chat.id == OPERATOR
    assert (await call(admin, "GET", bot_path(registered)))["faults_pending"] == 1


async def test_the_flood_limits_429s_are_counted_as_refused(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    with pytest.raises(TelegramRetryAfter):
        for number in range(10):
            await bot.send_message(OPERATOR, f"alert {number}")

    info = await call(admin, "GET", bot_path(registered))
    assert info["refused"] == 1 and info["calls"]["sendMessage"] == info["refused"] + 3


async def test_injected_server_errors_and_hangs_hit_any_method(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    await call(admin, "POST", bot_path(registered, "/faults"), kind="server_error")
    with pytest.raises(TelegramServerError):
        await bot.get_me()

    await call(admin, "POST", bot_path(registered, "/faults"), kind="hang", seconds=0.6)
    started = time.monotonic()
    me = await bot.get_me()
    assert me.id == bot.id and time.monotonic() - started >= 0.6

    await call(admin, "POST", bot_path(registered, "/faults"), kind="hang", seconds=5, count=3)
    cleared = await call(admin, "POST", bot_path(registered, "/faults"), kind="clear")
    assert cleared["pending"] == 0
    await asyncio.wait_for(bot.get_me(), 1)


async def test_a_bad_fault_request_is_a_400_naming_the_field(
    admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    async with admin.post(
        bot_path(registered, "/faults"), json={"kind": "retry_after"}
    ) as response:
        body = await response.json()

    assert response.status == 400 and "seconds" in body["description"]


async def test_the_bots_chats_are_listed_most_recent_first(
    sandbox: RunningSandbox,
    bot: Bot,
    admin: aiohttp.ClientSession,
    registered: dict[str, Any],
) -> None:
    now = [time.time()]
    sandbox.world.clock = lambda: now[0]
    group = await call(admin, "POST", "/_sandbox/chats", ref="ops_room", title="Operators")
    await bot.send_message(OPERATOR, "private alert")
    now[0] += 5
    posted = await bot.send_message(group["chat"]["chat_id"], "group alert")

    listed = (await call(admin, "GET", bot_path(registered, "/chats")))["chats"]

    assert [row["title"] for row in listed] == ["Operators", "Olga"]
    assert listed[0]["chat"] == {
        "id": group["chat"]["chat_id"],
        "type": "supergroup",
        "title": "Operators",
        "username": "ops_room",
    }
    assert listed[0]["last_message_id"] == posted.message_id
    assert listed[1]["chat"]["type"] == "private" and listed[1]["chat"]["id"] == OPERATOR
    assert listed[1]["last_message_date"] < listed[0]["last_message_date"]
