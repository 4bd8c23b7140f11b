"""The real aiogram against the sandbox over HTTP, where the notifier depends on Telegram being
strict: HTML parsed or refused, replies both ways, injected failures and the flood limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
)
from aiogram.utils.formatting import Bold, Text, TextLink
from aiogram.utils.text_decorations import html_decoration

from sandbox.bootstrap import RunningSandbox
from tests.integration.sandbox_bots import (
    aiogram_bot,
    bot_path,
    call,
    dumped,
    relax_limits,
    started_bot,
)

OPERATOR = 777_002
LEAD_TEXT = "Анна <a@b.ru>: \"цена < 100$ & скидка > 5%\" 😀 'ок' <script>x</script>"


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


@pytest.fixture
def roomy(sandbox: RunningSandbox) -> None:
    relax_limits(sandbox)


async def last_update_message(bot: Bot) -> Message:
    updates = await bot.get_updates(timeout=1)
    message = updates[-1].message
    assert message is not None
    return message


async def test_html_text_arrives_parsed_with_its_entities(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    sent = await bot.send_message(
        OPERATOR,
        '<b>New lead</b> 😀 in <a href="https://t.me/web_leads">web-leads</a>\n<i>Анна</i>',
        parse_mode="HTML",
    )

    assert sent.text == "New lead 😀 in web-leads\nАнна"
    assert dumped(sent.entities) == [
        {"type": "bold", "offset": 0, "length": 8},
        {"type": "text_link", "offset": 15, "length": 9, "url": "https://t.me/web_leads"},
        {"type": "italic", "offset": 25, "length": 4},
    ]
    stored = await call(admin, "GET", bot_path(registered, f"/chats/{OPERATOR}/messages"))
    assert stored["messages"][-1]["text"] == sent.text
    assert stored["messages"][-1]["entities"][1]["url"] == "https://t.me/web_leads"


async def test_a_lead_text_quoted_for_html_arrives_exactly_as_the_lead_wrote_it(bot: Bot) -> None:
    sent = await bot.send_message(
        OPERATOR,
        f"<b>Lead</b>\n<blockquote>{html_decoration.quote(LEAD_TEXT)}</blockquote>",
        parse_mode="HTML",
    )

    assert sent.text == f"Lead\n{LEAD_TEXT}"
    assert [e.type for e in sent.entities or []] == ["bold", "blockquote"]


async def test_bad_markup_is_refused_with_cant_parse_entities_and_nothing_is_sent(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities: Unsupported start tag"):
        await bot.send_message(OPERATOR, f"<b>Lead</b> {LEAD_TEXT}", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match='start tag "b"'):
        await bot.send_message(OPERATOR, "<b>cut in the middle", parse_mode="HTML")

    stored = await call(admin, "GET", bot_path(registered, f"/chats/{OPERATOR}/messages"))
    assert [m["text"] for m in stored["messages"]] == ["/start"]


async def test_entities_given_outright_by_aiogram_formatting_come_back_unchanged(
    bot: Bot,
) -> None:
    content = Text("Lead ", Bold("Анна 😀"), " ", TextLink("chat", url="https://t.me/x"))

    sent = await bot.send_message(OPERATOR, **content.as_kwargs())

    assert sent.text == "Lead Анна 😀 chat"
    assert dumped(sent.entities) == dumped(content.as_kwargs()["entities"])


async def test_without_parse_mode_tags_are_plain_text(bot: Bot) -> None:
    sent = await bot.send_message(OPERATOR, "<b>not bold</b> & co")

    assert sent.text == "<b>not bold</b> & co" and sent.entities is None


async def test_a_users_reply_to_the_bots_alert_arrives_with_the_alert_as_reply_to_message(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    alert = await bot.send_message(OPERATOR, "<b>Draft #7</b> waiting", parse_mode="HTML")
    await bot.get_updates(offset=-1, timeout=0)  # everything so far is read

    body = {"user_id": OPERATOR, "text": "Better: hello!", "reply_to_message_id": alert.message_id}
    await call(admin, "POST", bot_path(registered, "/messages"), **body)
    reply = await last_update_message(bot)

    assert reply.text == "Better: hello!"
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == alert.message_id
    assert reply.reply_to_message.text == "Draft #7 waiting"
    assert dumped(reply.reply_to_message.entities) == [{"type": "bold", "offset": 0, "length": 8}]
    assert reply.reply_to_message.from_user is not None
    assert reply.reply_to_message.from_user.id == bot.id
    stored = await call(admin, "GET", bot_path(registered, f"/chats/{OPERATOR}/messages"))
    assert stored["messages"][-1]["reply_to_message"]["message_id"] == alert.message_id


async def test_a_reply_to_a_reply_nests_one_level_only_as_in_telegram(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    alert = await bot.send_message(OPERATOR, "alert")
    body = {"user_id": OPERATOR, "text": "answer", "reply_to_message_id": alert.message_id}
    answer = await call(admin, "POST", bot_path(registered, "/messages"), **body)

    again = await bot.send_message(
        OPERATOR,
        "noted",
        reply_parameters=ReplyParameters(message_id=answer["message"]["message_id"]),
    )

    assert again.reply_to_message is not None and again.reply_to_message.text == "answer"
    assert again.reply_to_message.reply_to_message is None


async def test_a_simulated_users_reply_to_a_missing_message_is_refused(
    admin: aiohttp.ClientSession, registered: dict[str, Any]
) -> None:
    body = {"user_id": OPERATOR, "text": "hi", "reply_to_message_id": 999}
    async with admin.post(bot_path(registered, "/messages"), json=body) as response:
        refused = await response.json()

    assert response.status == 400 and "message to be replied not found" in refused["description"]


async def test_the_bot_replies_by_id_and_by_reply_parameters(bot: Bot, roomy: None) -> None:
    first = await bot.send_message(OPERATOR, "first")

    by_id = await bot.send_message(OPERATOR, "re 1", reply_to_message_id=first.message_id)
    by_params = await bot.send_message(
        OPERATOR, "re 2", reply_parameters=ReplyParameters(message_id=first.message_id)
    )

    for reply in (by_id, by_params):
        assert reply.reply_to_message is not None
        assert reply.reply_to_message.message_id == first.message_id
        assert reply.reply_to_message.text == "first"


async def test_replying_to_a_missing_message_is_refused_unless_sending_without_reply_is_allowed(
    bot: Bot,
) -> None:
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(OPERATOR, "x", reply_parameters=ReplyParameters(message_id=999))

    sent = await bot.send_message(
        OPERATOR,
        "x",
        reply_parameters=ReplyParameters(message_id=999, allow_sending_without_reply=True),
    )
    assert sent.reply_to_message is None


async def test_in_a_group_a_member_replies_to_the_bots_post(
    bot: Bot, admin: aiohttp.ClientSession, registered: dict[str, Any], roomy: None
) -> None:
    group = await call(admin, "POST", "/_sandbox/chats", ref="ops_room", title="Operators")
    post = await bot.send_message(group["chat"]["chat_id"], "<b>Lead</b>", parse_mode="HTML")
    await bot.get_updates(offset=-1, timeout=0)

    body = {
        "user_id": OPERATOR,
        "chat": "ops_room",
        "text": "mine",
        "reply_to_message_id": post.message_id,
    }
    await call(admin, "POST", bot_path(registered, "/messages"), **body)
    reply = await last_update_message(bot)

    assert reply.chat.type == "supergroup" and reply.reply_to_message is not None
    assert reply.reply_to_message.text == "Lead" and reply.reply_to_message.entities


async def test_an_html_edit_is_parsed_and_not_modified_compares_text_entities_and_keyboard(
    bot: Bot, roomy: None
) -> None:
    sent = await bot.send_message(OPERATOR, "<b>Draft</b>", parse_mode="HTML")
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Approve", callback_data="a:1")]]
    )

    italic = await bot.edit_message_text(
        text="<i>Draft</i>", chat_id=OPERATOR, message_id=sent.message_id, parse_mode="HTML"
    )
    assert isinstance(italic, Message) and italic.text == "Draft" and italic.edit_date
    assert dumped(italic.entities) == [{"type": "italic", "offset": 0, "length": 5}]
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            text="<i>Draft</i>", chat_id=OPERATOR, message_id=sent.message_id, parse_mode="HTML"
        )
    plain = await bot.edit_message_text(text="Draft", chat_id=OPERATOR, message_id=sent.message_id)
    assert isinstance(plain, Message) and plain.entities is None
    buttons = await bot.edit_message_text(
        text="Draft", chat_id=OPERATOR, message_id=sent.message_id, reply_markup=keyboard
    )
    assert isinstance(buttons, Message) and buttons.reply_markup is not None
    assert buttons.reply_markup.inline_keyboard[0][0].callback_data == "a:1"
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.edit_message_text(
            text="<b>x", chat_id=OPERATOR, message_id=sent.message_id, parse_mode="HTML"
        )


async def test_a_url_button_telegram_cannot_check_refuses_the_message(bot: Bot) -> None:
    def markup(url: str) -> InlineKeyboardMarkup:
        button = InlineKeyboardButton(text="Open in panel", url=url)
        return InlineKeyboardMarkup(inline_keyboard=[[button]])

    with pytest.raises(TelegramBadRequest) as refused:
        await bot.send_message(OPERATOR, "Draft", reply_markup=markup("http://localhost:8000/d/1"))
    assert refused.value.message == (
        "Bad Request: inline keyboard button URL 'http://localhost:8000/d/1' is invalid: "
        "Wrong HTTP URL"
    )
    with pytest.raises(TelegramBadRequest, match="is invalid: Unsupported URL protocol"):
        await bot.send_message(OPERATOR, "Draft", reply_markup=markup("happ://add/x"))

    sent = await bot.send_message(
        OPERATOR, "Draft", reply_markup=markup("https://Panel.example.com")
    )
    assert sent.reply_markup is not None
    assert sent.reply_markup.inline_keyboard[0][0].url == "https://panel.example.com/"
