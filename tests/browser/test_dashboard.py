"""The dashboard in a real browser against the running stack: chat traffic reaches its funnel
without a reload (the parser's counts, flushed every few seconds, and the leads it found), an
approved first DM shows up among the first DMs and against its account's cap, and the charts draw.
Leaves ``tests/browser/screenshots/dashboard.png`` (the README's, in docs/screenshots)."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from tests.browser.conftest import CHAT, SCREENSHOTS, Panel, sign_in

PEOPLE = [
    (770_001, "Мария", "Ищу разработчика для интернет-магазина"),
    (770_002, "Олег", "Нужен developer на React, срочно"),
    (770_003, "Ирина", "Кто посоветует разработчика мобильного приложения?"),
    (770_004, "Пётр", "Всем привет, как дела?"),
    (770_005, "Анна", "Где купить хороший кофе?"),
]


async def _post(panel: Panel) -> None:
    for user_id, name, text in PEOPLE:
        await panel.say(CHAT, user_id, name, text)
        if user_id == PEOPLE[0][0]:
            # The others come inside the dashboard's 5 s throttle after the first refetch:
            # only the refetch after the news pauses can count them.
            await asyncio.sleep(1.5)


async def _until_shown(page: Page, testid: str, value: str) -> None:
    """Wait for a number, reloading now and then: a flush of the parser's counts is no event."""
    number = page.locator(f"[data-testid={testid}]")
    for _ in range(10):
        try:
            await expect(number).to_have_text(value, timeout=3_000)
            return
        except AssertionError:
            await page.reload()
    await expect(number).to_have_text(value)


async def test_the_dashboard_follows_chat_traffic_live_and_draws_its_charts(
    own_panel: Panel, page: Page
) -> None:
    # Its numbers span every campaign, and a campaign's own "messages read" needs the chat's
    # Telegram id, which nothing records yet: the stack is the test's own, not the session's.
    panel = own_panel
    password = panel.create_user("olga", "operator")
    await sign_in(page, panel, "olga", password)
    await page.goto(f"{panel.url}/?days=7")
    await expect(page.locator("[data-testid=total-leads]")).to_have_text("0")

    await _post(panel)
    # no reload: the leads come with the live feed, the messages read with the parser's flush
    await expect(page.locator("[data-testid=total-leads]")).to_have_text("3", timeout=30_000)
    await page.goto(f"{panel.url}/inbox?need=needs_approval")
    conversation = page.locator("[data-testid=conversations] [data-conversation]")
    await expect(conversation).to_have_count(3, timeout=30_000)
    await conversation.first.click()
    await expect(page.locator("[data-testid=draft]")).to_be_visible()
    await page.keyboard.press("a")  # approve: the first DM goes out
    await expect(page.locator("[data-testid=draft]")).to_have_count(0)

    await page.goto(f"{panel.url}/?days=7")
    await _until_shown(page, "total-first_dms", "1")  # sent by the worker: the live feed says so
    await _until_shown(page, "total-scanned", str(len(PEOPLE)))  # the parser's counts
    sent = page.locator("[data-testid=accounts] tr[data-account^=manager] [data-testid=sends]")
    await expect(sent.filter(has_text="1 /")).to_have_count(1)
    await expect(page.locator("[data-testid=no-flags]")).to_be_visible()
    # Polled: a live refresh swaps the canvases in and the charts are drawn again when it settles.
    charts = "['chart-funnel', 'chart-llm'].every((id) => window.Chart.getChart(id) !== undefined)"
    await page.wait_for_function(f"() => {charts}", timeout=10_000)
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "dashboard.png", full_page=True)  # for the README
