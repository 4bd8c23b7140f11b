"""Signing in through the panel's login form, in a real browser against the real stack."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Page, expect

from admin.access.signin import SESSION_COOKIE
from tests.browser.conftest import Panel, sign_in


async def test_chromium_opens_the_admin_api_docs(panel: Panel, page: Page) -> None:
    response = await page.goto(f"{panel.url}/docs")
    assert response is not None and response.status == 200
    await expect(page).to_have_title("CoolThing API")


async def test_an_owner_signs_in_through_the_form_and_lands_on_the_panel(
    panel: Panel, page: Page
) -> None:
    response = await sign_in(page, panel, panel.login, panel.password)

    assert response is not None and response.status == 200
    assert urlsplit(page.url).path != "/login"
    await expect(page.locator("[data-testid=current-user]")).to_contain_text(panel.login)
    assert SESSION_COOKIE in {c["name"] for c in await page.context.cookies()}


async def test_a_wrong_password_shows_the_error_by_the_form_and_sets_no_session(
    panel: Panel, page: Page
) -> None:
    response = await sign_in(page, panel, panel.login, "not-the-password-123")

    assert response is not None and response.status == 400
    assert urlsplit(page.url).path == "/login"
    await expect(page.locator(".invalid-feedback, [role=alert]").first).to_be_visible()
    assert SESSION_COOKIE not in {c["name"] for c in await page.context.cookies()}
