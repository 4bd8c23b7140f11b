"""Deleted messages in the sandbox behave as in Telegram: gone for edits, replies and quotes, and
deletable only by whom Telegram allows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import ReplyParameters

from sandbox.bootstrap import RunningSandbox
from tests.integration.sandbox_bots import aiogram_bot, call, relax_limits, started_bot

OPERATOR = 777_004


@pytest.fixture
async def admin(sandbox: RunningSandbox) -> AsyncIterator[aiohttp.ClientSession]:
    relax_limits(sandbox)
    async with aiohttp.ClientSession(base_url=sandbox.url) as session:
        yield session


@pytest.fixture
async def registered(admin: aiohttp.ClientSession) -> dict[str, Any]:
    return await started_bot(admin, "del_bot", OPERATOR)


@pytest.fixture
async def bot(sandbox: RunningSandbox, registered: dict[str, Any]) -> AsyncIterator[Bot]:
    client = aiogram_bot(sandbox, registered["token"])
    yield client
    await client.session.close()


async def test_a_deleted_alert_can_no_longer_be_edited_or_replied_to(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    alert = await bot.send_message(OPERATOR, "3 new leads")
    answer = await bot.send_message(
        OPERATOR, "details", reply_parameters=ReplyParameters(message_id=alert.message_id)
    )

    assert await bot.delete_message(OPERATOR, alert.message_id)

    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("4 new leads", chat_id=OPERATOR, message_id=alert.message_id)
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(OPERATOR, "x", reply_to_message_id=alert.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(OPERATOR, alert.message_id)
    stored = await call(
        admin, "GET", f"/_sandbox/bots/{registered['id']}/chats/{OPERATOR}/messages"
    )
    assert [m["text"] for m in stored["messages"]] == ["/start", "details"]
    assert "reply_to_message" not in stored["messages"][-1]  # a quote of it is gone too
    assert answer.reply_to_message is not None  # (it was there when sent)


async def test_a_user_deleting_the_alert_in_the_private_chat_removes_it_for_the_bot(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    alert = await bot.send_message(OPERATOR, "Draft #3")
    body = {"user_id": OPERATOR, "message_id": alert.message_id}

    await call(admin, "POST", f"/_sandbox/bots/{registered['id']}/delete", **body)

    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(
            "Draft #3 approved", chat_id=OPERATOR, message_id=alert.message_id
        )


async def test_in_a_group_the_bot_deletes_only_its_own_messages_and_members_only_theirs(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    group = await call(admin, "POST", "/_sandbox/chats", ref="ops_room", title="Operators")
    chat_id = group["chat"]["chat_id"]
    post = await bot.send_message(chat_id, "alert")
    body = {"user_id": OPERATOR, "chat": "ops_room", "text": "mine"}
    written = await call(admin, "POST", f"/_sandbox/bots/{registered['id']}/messages", **body)

    with pytest.raises(TelegramBadRequest, match="message can't be deleted"):
        await bot.delete_message(chat_id, written["message"]["message_id"])
    refused = {"user_id": OPERATOR, "chat": "ops_room", "message_id": post.message_id}
    async with admin.post(f"/_sandbox/bots/{registered['id']}/delete", json=refused) as response:
        assert response.status == 400
    assert await bot.delete_message(chat_id, post.message_id)
