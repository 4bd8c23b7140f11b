"""Adding an account from the browser by logging it in with its phone number: the code the
sandbox Telegram sends, a wrong one refused next to the field, then the account's two-step
password; the account's page shows it active, with its phone and no secret."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import Panel, sign_in

PHONE = "+447700900555"
PASSWORD_2FA = "blue-harbour-17"


async def _sandbox(panel: Panel, method: str, path: str, body: object = None) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=panel.sandbox_url, timeout=10) as http:
        answer = await http.request(method, path, json=body)
    payload: dict[str, object] = answer.json()
    assert payload["ok"], payload
    return payload


async def test_an_admin_adds_an_account_by_phone_with_its_two_step_password(
    panel: Panel, page: Page
) -> None:
    made = await _sandbox(panel, "POST", "/_sandbox/accounts", {"first_name": "Nina"})
    await _sandbox(
        panel,
        "PUT",
        f"/_sandbox/accounts/{made['user_id']}/phone",
        {"phone": PHONE, "password": PASSWORD_2FA},
    )
    password = panel.create_user("alina", "admin")
    await sign_in(page, panel, "alina", password)
    await page.goto(f"{panel.url}/accounts")
    await expect(page.locator("[data-testid=accounts]")).to_contain_text("manager-1")
    await page.locator("[data-testid=add-account]").click()

    await page.locator("#phone-name").fill("sales-nina")
    await page.locator("#phone-role").select_option("manager")
    await page.locator("#phone-phone").fill("+44 7700 900555")
    await page.locator("[data-testid=send-code]").click()
    await expect(page.get_by_text(f"Telegram sent a code to {PHONE}")).to_be_visible()
    await expect(page.locator("[data-testid=sandbox-code-hint]")).to_be_visible()

    await page.locator("#login-code").fill("99999x")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#login-code + .invalid-feedback")).to_contain_text(
        "not the one Telegram sent"
    )
    code = await _sandbox(panel, "GET", f"/_sandbox/login-codes?phone=%2B{PHONE[1:]}")
    await page.locator("#login-code").fill(str(code["code"]))
    await page.get_by_role("button", name="Sign in").click()

    await expect(page.locator("#login-password")).to_be_visible()
    await page.locator("#login-password").fill(PASSWORD_2FA)
    await page.get_by_role("button", name="Sign in").click()

    await expect(page).to_have_url(re.compile(rf"{re.escape(panel.url)}/accounts/\d+$"))
    await expect(page.locator("[data-testid=account-state]")).to_contain_text("active")
    await expect(page.locator("[data-testid=account-phone]")).to_have_text(PHONE)
    assert PASSWORD_2FA not in await page.content()
    await page.goto(f"{panel.url}/accounts?q=nina")
    found = page.locator("[data-testid=accounts] tr[data-account]")
    await expect(found).to_have_count(1)
    await found.get_by_role("link", name="sales-nina").click()  # the screenshot: its page
    await expect(page.locator("[data-testid=account-campaigns]")).to_be_visible()
