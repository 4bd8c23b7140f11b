"""The sandbox's web view in chromium: a newcomer without Telegram watches and drives a real
aiogram bot (polling the sandbox over HTTP) by pressing its buttons and replying to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from playwright.async_api import Page, expect

from sandbox import botworld
from sandbox.bootstrap import RunningSandbox, serve
from sandbox.state import World
from tests.browser.conftest import SCREENSHOTS

OPERATOR = 700_000_001
HOSTILE = """<img src=x onerror="window.pwned=1"> & <script>window.pwned=2</script> 'q' "qq\""""
ALERT = (
    '<b>Draft waiting</b> for <i>{lead}</i> in <a href="https://t.me/webdev_chat">webdev_chat</a>\n'
    "<blockquote>{said}</blockquote>\n"
    "Draft: <code>{draft}</code>\n"
    "Picked because: <tg-spoiler>{why}</tg-spoiler>"
)
FIRST = ALERT.format(
    lead="Mark Evans",
    said="Anyone hiring for Vue? I need a site by May &amp; a budget under $5k",
    draft="Hi Mark! We build sites like this in four weeks.",
    why="keywords «site», «budget»",
)
SECOND = ALERT.format(
    lead="Анна Петрова",
    said="Ищу разработчика на React, бюджет до 300к",
    draft="Здравствуйте, Анна! Мы делаем такие проекты за месяц.",
    why="keywords «разработчик», «React»",
)


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await serve("127.0.0.1", 0)
    _furnish(running.world)
    yield running
    await running.stop()


def _furnish(world: World) -> None:
    """A small demo world: groups with talk, an account with a lead's dialog, an operator."""
    people = [world.add_user(name, last_name=last) for name, last in _PEOPLE]
    for ref, title, lines in _GROUPS:
        chat = world.add_chat(ref, title)
        for n, line in enumerate(lines):
            world.post(chat, people[n % len(people)], line)
    kate, _ = world.add_account("Kate", last_name="Manager", username="ct_manager1")
    anna = people[0]
    world.deliver_dm(kate.user, anna, "Здравствуйте, Анна! Видела ваш пост про React.")
    world.deliver_dm(anna, kate.user, "Добрый день! Да, ещё ищем. Сколько стоит?")
    world.add_user("Olga", last_name="Operator", username="olga_ops", user_id=OPERATOR)


_PEOPLE = [("Анна", "Петрова"), ("Mark", "Evans"), ("Игорь", None), ("Sofia", "Lind")]
_GROUPS = [
    (
        "python_ru",
        "Python по-русски",
        ["Кто пробовал asyncio.TaskGroup в проде?", "Да, с 3.11 без проблем", "+1"],
    ),
    (
        "webdev_chat",
        "Web developers chat",
        ["Ищу разработчика на React, бюджет до 300к", "Anyone hiring for Vue?", HOSTILE],
    ),
    ("startups_en", "Startup founders", ["We are looking for a designer for our landing page"]),
]


@dataclass
class TinyBot:
    """A real aiogram bot polling the sandbox: Approve edits the alert; replies and /start
    messages are kept for the test."""

    bot: Bot
    replies: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)
    starts: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)

    def router(self) -> Router:
        router = Router()
        router.callback_query.register(self.approve, F.data == "approve:42")
        router.message.register(self.keep_reply, F.reply_to_message)
        router.message.register(self.starts.put, CommandStart())
        return router

    async def approve(self, query: CallbackQuery) -> None:
        assert query.message is not None
        who = query.from_user.first_name
        text = f"<b>Approved</b> by {who}: the DM goes out to Анна"
        await self.bot.edit_message_text(
            text,
            chat_id=query.message.chat.id,
            message_id=query.message.message_id,
            parse_mode="HTML",
        )
        await query.answer("Approved ✓")

    async def keep_reply(self, message: Message) -> None:
        await self.replies.put(message)


@pytest.fixture
async def tiny_bot(sandbox: RunningSandbox) -> AsyncIterator[TinyBot]:
    world = sandbox.world
    state = botworld.register_bot(world, "coolthing_notifier_bot", "CoolThing")
    botworld.user_writes(world, state, world.users[OPERATOR], "/start", None)
    api = TelegramAPIServer.from_base(sandbox.url)
    tiny = TinyBot(Bot(state.token, session=AiohttpSession(api=api)))
    dispatcher = Dispatcher()
    dispatcher.include_router(tiny.router())
    polling = asyncio.create_task(
        dispatcher.start_polling(tiny.bot, handle_signals=False, polling_timeout=1)
    )
    yield tiny
    await dispatcher.stop_polling()
    await polling  # closes the bot's session


def keyboard(draft: int) -> InlineKeyboardMarkup:
    row = [
        InlineKeyboardButton(text="Approve", callback_data=f"approve:{draft}"),
        InlineKeyboardButton(text="Reject", callback_data=f"reject:{draft}"),
    ]
    more = [
        InlineKeyboardButton(text="Take over", callback_data=f"take:{draft}"),
        InlineKeyboardButton(text="Open in panel", url=f"http://127.0.0.1:8000/inbox/{draft}"),
    ]
    return InlineKeyboardMarkup(inline_keyboard=[row, more])


async def test_a_newcomer_presses_approve_sees_the_edit_and_toast_and_replies_to_the_bot(
    page: Page, sandbox: RunningSandbox, tiny_bot: TinyBot
) -> None:
    await page.goto(f"{sandbox.url}/")
    await page.locator(".chat-item", has_text="Olga Operator").click()
    bot = tiny_bot.bot
    await bot.send_message(OPERATOR, FIRST, parse_mode="HTML", reply_markup=keyboard(41))
    alert = await bot.send_message(OPERATOR, SECOND, parse_mode="HTML", reply_markup=keyboard(42))

    bubble = page.locator(f'li.msg[data-id="{alert.message_id}"]')
    await expect(bubble.locator("strong")).to_have_text("Draft waiting")  # arrived by itself
    await expect(bubble.locator("blockquote")).to_contain_text("Ищу разработчика")
    await bubble.get_by_role("button", name="Approve").click()

    await expect(bubble).to_contain_text("Approved by Olga: the DM goes out to Анна")
    await expect(page.locator(".toast")).to_have_text("Approved ✓")
    await expect(bubble.locator(".edited")).to_have_text("edited")
    await expect(bubble.get_by_role("button")).to_have_count(1)  # only "reply": keyboard gone

    await bubble.get_by_role("button", name="reply").click()
    await page.get_by_label("Message", exact=True).fill("Send it after 10:00, please")
    await page.get_by_label("Message", exact=True).press("Enter")

    reply = await asyncio.wait_for(tiny_bot.replies.get(), 10)
    assert reply.text == "Send it after 10:00, please"
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == alert.message_id
    quote = page.locator("li.msg.mine .msg-quote")
    await expect(quote).to_contain_text("Approved by Olga")
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "sandbox-webview.png")


async def test_hostile_texts_show_as_text_and_a_long_busy_group_keeps_its_last_200_live(
    page: Page, sandbox: RunningSandbox
) -> None:
    world = sandbox.world
    chat = world.add_chat("busy_chat", "Busy chat")
    talker = world.add_user("Talker")
    for n in range(1, 1001):
        world.post(chat, talker, f"message {n}")

    webdev = world.chat("webdev_chat")
    assert webdev is not None
    tricky = [  # nested formatting, and a link no click may run
        {"type": "italic", "offset": 0, "length": 10},
        {"type": "bold", "offset": 5, "length": 5},
        {"type": "text_link", "offset": 11, "length": 4, "url": "javascript:window.pwned=3"},
    ]
    world.post(webdev, talker, "very bold! here", entities=tricky)

    await page.goto(f"{sandbox.url}/")
    await page.locator(".chat-item", has_text="Web developers chat").click()
    await expect(page.locator(".msg-text").last).to_have_text("very bold! here")
    await expect(page.locator(".msg-text").nth(-2)).to_have_text(HOSTILE)
    assert await page.evaluate("typeof window.pwned") == "undefined"
    assert await page.locator(".msg-text img, .msg-text script").count() == 0
    formatted = page.locator(".msg-text").last
    await expect(formatted.locator("em > strong")).to_have_text("bold!")
    assert await formatted.locator("a").count() == 0  # a javascript: link stays plain text

    await page.locator(".chat-item", has_text="Busy chat").click()
    await expect(page.locator(".msg-text").last).to_have_text("message 1000")
    await expect(page.locator("li.msg")).to_have_count(200)
    world.post(chat, talker, "message 1001")  # the page polls: it appears without a reload
    await expect(page.locator(".msg-text").last).to_have_text("message 1001")
    await page.get_by_role("button", name="Show older messages").click()
    await expect(page.locator("li.msg")).to_have_count(401)
    await expect(page.locator(".msg-text").first).to_have_text("message 601")


async def test_a_newcomer_starts_a_chat_with_the_bot_as_a_new_user_sending_start_with_a_code(
    page: Page, sandbox: RunningSandbox, tiny_bot: TinyBot
) -> None:
    await page.goto(f"{sandbox.url}/")
    await page.get_by_role("button", name="+ new chat").click()
    await page.get_by_label("First name").fill("Newcomer")
    await page.get_by_label("First message").fill("/start LINK-7F3K")
    await page.locator("dialog").get_by_role("button", name="Start", exact=True).click()

    await expect(page.locator("#conv-title")).to_have_text("Newcomer")
    await expect(page.locator("li.msg.mine .msg-text")).to_have_text("/start LINK-7F3K")
    await expect(page.locator(".chat-item", has_text="Newcomer")).to_be_visible()
    started = await asyncio.wait_for(tiny_bot.starts.get(), 10)
    if started.from_user is not None and started.from_user.id == OPERATOR:  # the fixture's own
        started = await asyncio.wait_for(tiny_bot.starts.get(), 10)
    assert started.text == "/start LINK-7F3K"
    assert started.from_user is not None and started.from_user.first_name == "Newcomer"
