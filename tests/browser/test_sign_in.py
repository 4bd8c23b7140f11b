"""Signing in through the panel's login form, in a real browser against the real stack: a wrong
password is refused by the form and sets no session, the right one lands on the panel."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Page, expect

from admin.access.signin import SESSION_COOKIE
from tests.browser.conftest import Panel, sign_in


async def test_a_wrong_password_is_refused_by_the_form_and_the_right_one_signs_in(
    panel: Panel, page: Page
) -> None:
    refused = await sign_in(page, panel, panel.login, "not-the-password-123")
    assert refused is not None and refused.status == 400
    assert urlsplit(page.url).path == "/login"
    await expect(page.locator(".invalid-feedback, [role=alert]").first).to_be_visible()
    assert SESSION_COOKIE not in {c["name"] for c in await page.context.cookies()}

    response = await sign_in(page, panel, panel.login, panel.password)
    assert response is not None and response.status == 200
    assert urlsplit(page.url).path != "/login"
    await expect(page.locator("[data-testid=current-user]")).to_contain_text(panel.login)
    assert SESSION_COOKIE in {c["name"] for c in await page.context.cookies()}
