"""Linking Telegram and an alerts-only token, pressed in chromium: the menu's Telegram page gives
a code the bot accepts (htmx, CSRF), the token page makes a token that sends alerts and nothing
else, and the alert log lists who gets alerts. The admin service runs as `coolthing run admin`
starts it (``live_admin``, SQLite): the whole stack is not needed for these pages."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.async_api import Page, expect

from core.security import SecretBox
from core.telegram_link_codes import read_code
from tests.conftest import PASSWORD, bearer
from tests.integration.live_admin import LiveAdmin, live_admin


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAdmin]:
    directory = tmp_path_factory.mktemp("telegram-link")
    with live_admin(f"sqlite+aiosqlite:///{directory / 'panel.db'}", directory) as running:
        yield running


async def sign_in(page: Page, admin: LiveAdmin, login: str) -> None:
    await page.goto(f"{admin.url}/login")
    await page.locator("input[name=login]").fill(login)
    await page.locator("input[name=password]").fill(PASSWORD)
    async with page.expect_navigation():
        await page.locator("form[action='/login'] button[type=submit]").click()


async def test_an_operator_gets_a_link_code_from_the_menu(admin: LiveAdmin, page: Page) -> None:
    await sign_in(page, admin, "operator")
    await page.get_by_role("link", name="Telegram", exact=True).click()
    await expect(page.get_by_test_id("telegram-link")).to_have_text(
        "No Telegram account is linked."
    )
    await page.get_by_role("button", name="Get a link code").click()
    message = page.get_by_test_id("link-code").locator("input")
    await expect(message).to_have_value(re.compile(r"^/start [A-Za-z0-9_-]+$"))
    code = (await message.input_value()).removeprefix("/start ")
    assert admin.settings.secret_key is not None
    box = SecretBox(admin.settings.secret_key.get_secret_value().encode())
    assert read_code(box, code).user_id > 0
    await page.get_by_role("button", name="Get a new code").click()
    await expect(message).not_to_have_value(f"/start {code}")


async def test_an_alerts_token_made_in_the_panel_sends_alerts_only(
    admin: LiveAdmin, page: Page
) -> None:
    await sign_in(page, admin, "viewer")
    await page.goto(f"{admin.url}/me/tokens")
    await page.locator("#token-name").fill("alertmanager")
    await page.get_by_label("Only send alerts").check()
    await page.get_by_role("button", name="Make the token").click()
    token = await page.get_by_test_id("new-token").locator("input").input_value()
    await expect(page.get_by_test_id("token-scope").first).to_have_text("alerts only")
    async with httpx.AsyncClient(base_url=admin.url, headers=bearer(token), timeout=10) as am:
        sent = await am.post("/api/v1/alerts", json={"title": "Disk full", "severity": "critical"})
        assert sent.status_code == 202, sent.text
        refused = await am.get("/api/v1/alerts")
        assert refused.status_code == 403
    await page.get_by_role("link", name="Alerts", exact=True).click()
    await expect(page.locator("#recipients")).to_contain_text("send /settings to the bot")
