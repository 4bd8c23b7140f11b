"""Setting the product up from the browser: a keyword set is written, tried on a message while
typing, refused with the reason next to the field, and saved."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.browser.conftest import Panel, sign_in


async def test_an_admin_tries_and_saves_a_keyword_set(panel: Panel, page: Page) -> None:
    password = panel.create_user("sonya", "admin")
    await sign_in(page, panel, "sonya", password)
    await page.goto(f"{panel.url}/keyword-sets")
    await expect(page.locator("[data-testid=keyword-sets]")).to_contain_text("web-dev")

    await page.locator("#set-name").fill("branding")
    await page.locator("#set-keywords").fill("дизайнер\nфирменный стиль\n!!!")
    await page.locator("[data-testid=try-text]").fill(
        "Нужен дизайнер, чтобы обновить фирменный стиль"
    )
    trial = page.locator("[data-testid=trial]")
    await expect(trial).to_contain_text("has no letters")  # the bad line, before saving

    await page.get_by_role("button", name="Save").click()
    name_error = page.locator("#set-keywords + .invalid-feedback")
    await expect(name_error).to_contain_text("line 3")
    await expect(page.locator("#set-keywords")).to_have_value("дизайнер\nфирменный стиль\n!!!")

    await page.locator("#set-keywords").fill("дизайнер\nфирменный стиль")
    await page.locator("[data-testid=try-text]").fill(
        "Нужен дизайнер, чтобы обновить фирменный стиль"
    )
    await expect(trial).to_contain_text("«фирменный стиль» matches")
    await expect(trial.locator("[data-verdict=lead]")).to_be_visible()
    await page.get_by_role("button", name="Save").click()
    await expect(page).to_have_url(re.compile(rf"{re.escape(panel.url)}/keyword-sets/\d+$"))
    await expect(page.locator("[data-testid=keyword-sets]")).to_contain_text("branding")
