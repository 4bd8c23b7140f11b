"""The sandbox's web view over real HTTP: the page, its chat list, the conversations' JSON, and
what a person does there (write, reply, press a button, start a bot) reaching a real aiogram Bot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Update

from sandbox.bootstrap import RunningSandbox

HOSTILE = """<script>alert("x")</script> & <img src=x onerror='alert(1)'> "quoted" 🙂"""
OPERATOR = 777_002


@pytest.fixture
async def http(sandbox: RunningSandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sandbox.url) as session:
        yield session


async def call(http: aiohttp.ClientSession, method: str, path: str, **body: Any) -> Any:
    async with http.request(method, path, json=body if body else None) as response:
        data = await response.json()
        assert data["ok"], data
        return data


@pytest.fixture
async def bot(sandbox: RunningSandbox, http: aiohttp.ClientSession) -> AsyncIterator[Bot]:
    """A bot the operator has started (a bot may only write to people who did)."""
    made = await call(http, "POST", "/_sandbox/bots", username="notifier_bot", first_name="Notify")
    path = f"/_sandbox/bots/{made['id']}/messages"
    await call(http, "POST", path, user_id=OPERATOR, first_name="Olga", text="/start")
    api = TelegramAPIServer.from_base(sandbox.url)
    client = Bot(made["token"], session=AiohttpSession(api=api))
    started = await client.get_updates(timeout=0)
    await client.get_updates(offset=started[-1].update_id + 1, timeout=0)  # /start confirmed
    yield client
    await client.session.close()


async def next_updates(bot: Bot, wait: int = 2) -> list[Update]:
    """What the bot has not confirmed yet, waiting up to ``wait`` seconds for something."""
    return await bot.get_updates(timeout=wait)


def approve_keyboard() -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(text="Approve", callback_data="approve:42")
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


async def test_the_page_is_served_at_the_root_and_runs_only_its_own_script(
    http: aiohttp.ClientSession,
) -> None:
    async with http.get("/") as page:
        html = await page.text()
        assert page.status == 200 and page.content_type == "text/html"
        policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert '<script type="module" src="/_sandbox/view/static/webview.js"' in html
    assert "cdn" not in html.lower() and "https://" not in html
    for name in ("webview.js", "webview_render.js"):
        async with http.get(f"/_sandbox/view/static/{name}") as script:
            assert script.status == 200 and script.content_type == "text/javascript"
            assert "innerHTML" not in await script.text()  # texts go in as text nodes only
    async with http.get("/_sandbox/view/static/..%2Fbootstrap.py") as escape:
        assert escape.status == 404


async def test_the_chat_list_shows_groups_account_dms_and_bot_chats_with_their_last_message(
    http: aiohttp.ClientSession, bot: Bot
) -> None:
    chat = (await call(http, "POST", "/_sandbox/chats", ref="jobs_chat", title="Jobs"))["chat"]
    await call(http, "POST", "/_sandbox/post", chat="@jobs_chat", text="Looking for a developer")
    account = await call(http, "POST", "/_sandbox/accounts", first_name="Kate", username="kate_m")
    lead = (await call(http, "POST", "/_sandbox/users", first_name="Anna"))["profile"]
    await call(http, "POST", "/_sandbox/dm", user_id=lead["user_id"], to="@kate_m", text="Hi!")

    listed = await call(http, "GET", "/_sandbox/view/chats")

    [group] = listed["groups"]
    assert group["title"] == "Jobs" and group["key"] == f"g_{chat['chat_id']}"
    assert group["last"]["text"] == "Looking for a developer"
    [dms] = listed["accounts"]
    assert dms["account"]["name"] == "Kate"
    [dialog] = dms["chats"]
    assert dialog["title"] == "Anna" and dialog["last"]["text"] == "Hi!"
    assert dialog["key"] == f"d_{account['user_id']}_{lead['user_id']}"
    [bots] = listed["bots"]
    assert bots["bot"]["username"] == "notifier_bot"
    assert [c["title"] for c in bots["chats"]] == ["Olga"]
    assert bots["chats"][0]["last"]["text"] == "/start"


async def test_an_accounts_dialog_shows_both_sides_in_order_and_the_page_writes_as_the_lead(
    http: aiohttp.ClientSession,
) -> None:
    account = await call(http, "POST", "/_sandbox/accounts", first_name="Kate", username="kate_m")
    lead = (await call(http, "POST", "/_sandbox/users", first_name="Anna"))["profile"]
    session = {"Authorization": f"Session {account['session']}"}
    async with http.post(
        "/user/messages", json={"peer": lead["user_id"], "text": "Hello Anna"}, headers=session
    ) as sent:
        assert sent.status == 200
    key = f"d_{account['user_id']}_{lead['user_id']}"

    await call(http, "POST", f"/_sandbox/view/chats/{key}/messages", text="Tell me more")
    shown = await call(http, "GET", f"/_sandbox/view/chats/{key}/messages")

    assert [(m["from"]["name"], m["text"]) for m in shown["messages"]] == [
        ("Kate", "Hello Anna"),
        ("Anna", "Tell me more"),
    ]
    assert shown["chat"]["me"]["id"] == lead["user_id"]  # the page plays the lead
    async with http.get("/user/updates?timeout=0&cursor=0", headers=session) as inbox:
        texts = [u["message"]["text"] for u in (await inbox.json())["updates"]]
    assert "Tell me more" in texts  # the account really received it


async def test_a_hostile_text_comes_back_verbatim_as_json_and_never_inside_the_page(
    http: aiohttp.ClientSession,
) -> None:
    chat = (await call(http, "POST", "/_sandbox/chats", ref="jobs_chat", title=HOSTILE))["chat"]
    await call(http, "POST", "/_sandbox/post", chat="@jobs_chat", text=HOSTILE)

    async with http.get(f"/_sandbox/view/chats/g_{chat['chat_id']}/messages") as answer:
        assert answer.content_type == "application/json"
        shown = await answer.json()
    async with http.get("/") as page:
        html = await page.text()

    assert shown["messages"][0]["text"] == HOSTILE
    assert shown["chat"]["title"] == HOSTILE
    assert "alert" not in html  # the page is static: the world's texts only arrive as data


async def test_a_button_pressed_in_the_view_reaches_the_bot_as_a_callback_query_and_its_answer_comes_back(  # noqa: E501 - the behaviour's name
    http: aiohttp.ClientSession, bot: Bot
) -> None:
    sent = await bot.send_message(OPERATOR, "Draft for Anna", reply_markup=approve_keyboard())
    key = f"b_{bot.id}_{OPERATOR}"

    pressed = await call(
        http,
        "POST",
        f"/_sandbox/view/chats/{key}/press",
        message_id=sent.message_id,
        data="approve:42",
    )
    [update] = await next_updates(bot)
    query = update.callback_query
    assert query is not None and query.data == "approve:42"
    assert query.from_user.id == OPERATOR
    assert query.message is not None and query.message.message_id == sent.message_id
    await bot.answer_callback_query(query.id, text="Approved ✓")

    answer = await call(http, "GET", pressed["answer_url"])
    assert answer["answered"] and answer["text"] == "Approved ✓"


async def test_a_button_the_message_does_not_have_is_refused(
    http: aiohttp.ClientSession, bot: Bot
) -> None:
    sent = await bot.send_message(OPERATOR, "Draft", reply_markup=approve_keyboard())
    path = f"/_sandbox/view/chats/b_{bot.id}_{OPERATOR}/press"
    async with http.post(path, json={"message_id": sent.message_id, "data": "forged"}) as answer:
        assert answer.status == 400
    assert await next_updates(bot, wait=0) == []


async def test_writing_in_a_bot_chat_reaches_the_bot_from_the_chats_user(
    http: aiohttp.ClientSession, bot: Bot
) -> None:
    key = f"b_{bot.id}_{OPERATOR}"
    await call(http, "POST", f"/_sandbox/view/chats/{key}/messages", text=HOSTILE)

    [update] = await next_updates(bot)
    assert update.message is not None and update.message.text == HOSTILE
    assert update.message.from_user is not None and update.message.from_user.id == OPERATOR


async def test_an_edit_by_the_bot_shows_up_in_the_next_poll_without_its_buttons(
    http: aiohttp.ClientSession, bot: Bot
) -> None:
    sent = await bot.send_message(OPERATOR, "Draft for Anna", reply_markup=approve_keyboard())
    path = f"/_sandbox/view/chats/b_{bot.id}_{OPERATOR}/messages"
    opened = await call(http, "GET", path)
    approve = {"text": "Approve", "callback_data": "approve:42"}
    assert opened["messages"][-1]["buttons"] == [[approve]]

    await bot.edit_message_text("Approved by Olga", chat_id=OPERATOR, message_id=sent.message_id)
    newest = opened["messages"][-1]["id"]
    polled = await call(http, "GET", f"{path}?after={newest}&edited_since={opened['now']}")

    assert polled["messages"] == []
    [edited] = polled["edited"]
    assert edited["id"] == sent.message_id and edited["text"] == "Approved by Olga"
    assert edited["edited"] and edited["buttons"] is None


async def test_a_long_group_opens_on_its_last_200_and_pages_back_through_older_ones(
    http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    world = sandbox.world
    chat = world.add_chat("busy_chat", "Busy")
    person = world.add_user("Talker")
    for n in range(1, 451):
        world.post(chat, person, f"message {n}")
    path = f"/_sandbox/view/chats/g_{chat.id}/messages"

    tail = await call(http, "GET", path)
    older = await call(http, "GET", f"{path}?before={tail['messages'][0]['id']}")
    oldest = await call(http, "GET", f"{path}?before={older['messages'][0]['id']}")

    assert [m["id"] for m in tail["messages"]] == list(range(251, 451)) and tail["has_older"]
    assert [m["id"] for m in older["messages"]] == list(range(51, 251)) and older["has_older"]
    assert [m["id"] for m in oldest["messages"]] == list(range(1, 51))
    assert not oldest["has_older"]
    world.post(chat, person, "message 451")
    fresh = await call(http, "GET", f"{path}?after=450")
    assert [m["text"] for m in fresh["messages"]] == ["message 451"] and not fresh["gap"]
    behind = await call(http, "GET", f"{path}?after=10")
    assert behind["gap"] and [m["id"] for m in behind["messages"]] == list(range(252, 452))


async def test_a_new_chat_plays_a_new_user_whose_start_code_reaches_the_bot(
    http: aiohttp.ClientSession, bot: Bot
) -> None:
    made = await call(
        http,
        "POST",
        f"/_sandbox/view/bots/{bot.id}/chats",
        first_name="Newcomer",
        text="/start LINK-CODE-123",
    )

    [update] = await next_updates(bot)
    assert update.message is not None and update.message.text == "/start LINK-CODE-123"
    assert update.message.from_user is not None
    assert update.message.from_user.first_name == "Newcomer"
    assert made["key"] == f"b_{bot.id}_{update.message.from_user.id}"
    opened = await call(http, "GET", f"/_sandbox/view/chats/{made['key']}/messages")
    assert opened["chat"]["title"] == "Newcomer"


async def test_a_conversation_that_does_not_exist_is_a_404(http: aiohttp.ClientSession) -> None:
    for key in ("g_-1", "d_1_2", "b_x_1", "nonsense"):
        async with http.get(f"/_sandbox/view/chats/{key}/messages") as answer:
            assert answer.status == 404, key


async def test_a_reply_written_in_the_view_reaches_the_bot_with_the_message_it_answers(
    http: aiohttp.ClientSession, bot: Bot
) -> None:
    alert = await bot.send_message(OPERATOR, "Draft: <b>Hello</b> Anna", parse_mode="HTML")
    key = f"b_{bot.id}_{OPERATOR}"

    written = await call(
        http,
        "POST",
        f"/_sandbox/view/chats/{key}/messages",
        text="Hi Anna!",
        reply_to=alert.message_id,
    )

    [update] = await next_updates(bot)
    assert update.message is not None and update.message.text == "Hi Anna!"
    replied = update.message.reply_to_message
    assert replied is not None and replied.message_id == alert.message_id
    quote = written["message"]["reply_to"]
    assert quote == {"id": alert.message_id, "from": "Notify", "text": "Draft: Hello Anna"}


async def test_a_bots_formatting_reaches_the_page_as_plain_text_with_entities(
    http: aiohttp.ClientSession, bot: Bot
) -> None:
    html = 'Lead <b>Анна 🙂</b> wrote <i>&lt;script&gt;</i> <a href="https://t.me/x">profile</a>'
    await bot.send_message(OPERATOR, html, parse_mode="HTML")

    shown = await call(http, "GET", f"/_sandbox/view/chats/b_{bot.id}_{OPERATOR}/messages")

    message = shown["messages"][-1]
    assert message["text"] == "Lead Анна 🙂 wrote <script> profile"
    assert [(e["type"], e["offset"], e["length"]) for e in message["entities"]] == [
        ("bold", 5, 7),  # UTF-16 units: the emoji counts two
        ("italic", 19, 8),
        ("text_link", 28, 7),
    ]
    assert message["entities"][2]["url"] == "https://t.me/x"


async def test_writing_in_a_group_as_a_chosen_person_reaches_the_bot_that_posted_there(
    http: aiohttp.ClientSession, bot: Bot
) -> None:
    made = await call(http, "POST", "/_sandbox/chats", ref="operators", title="Operators")
    group = made["chat"]["chat_id"]
    alert = await bot.send_message(group, "3 new leads")
    key = f"g_{group}"
    opened = await call(http, "GET", f"/_sandbox/view/chats/{key}/messages")
    assert OPERATOR in [p["id"] for p in opened["chat"]["personas"]]

    body = {"text": "on it", "as_user": OPERATOR, "reply_to": alert.message_id}
    await call(http, "POST", f"/_sandbox/view/chats/{key}/messages", **body)

    [update] = await next_updates(bot)
    assert update.message is not None and update.message.chat.id == group
    assert update.message.from_user is not None and update.message.from_user.id == OPERATOR
    assert update.message.reply_to_message is not None
    assert update.message.reply_to_message.message_id == alert.message_id


async def test_a_button_pressed_in_a_group_reaches_the_bot_from_the_person_chosen_in_the_page(
    http: aiohttp.ClientSession, bot: Bot
) -> None:
    made = await call(http, "POST", "/_sandbox/chats", ref="operators", title="Operators")
    group = made["chat"]["chat_id"]
    alert = await bot.send_message(group, "Draft for Anna", reply_markup=approve_keyboard())

    body = {"message_id": alert.message_id, "data": "approve:42", "as_user": OPERATOR}
    await call(http, "POST", f"/_sandbox/view/chats/g_{group}/press", **body)

    [update] = await next_updates(bot)
    query = update.callback_query
    assert query is not None and query.from_user.id == OPERATOR
    assert query.message is not None and query.message.chat.id == group


async def test_the_views_actions_refuse_a_body_another_site_could_post_without_asking(
    http: aiohttp.ClientSession, bot: Bot
) -> None:
    path = f"/_sandbox/view/chats/b_{bot.id}_{OPERATOR}/messages"
    async with http.post(path, data='{"text": "hi"}', headers={"Content-Type": "text/plain"}) as a:
        assert a.status == 400
    assert await next_updates(bot, wait=0) == []
