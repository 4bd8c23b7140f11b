"""A campaign's prompt from the browser: an unknown variable is refused with its line next to
the field and the text kept; the saved prompt becomes the current version, the one before stays
listed, and the diff colours the changed lines."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.browser.conftest import Panel, sign_in


async def test_an_admin_rewrites_the_prompt_and_compares_it_with_the_one_before(
    panel: Panel, page: Page
) -> None:
    password = panel.create_user("polina", "admin")
    await sign_in(page, panel, "polina", password)
    await page.goto(f"{panel.url}/prompts")
    await page.locator("[data-testid=prompt-campaigns] a", has_text="Open").first.click()
    await expect(page).to_have_url(re.compile(r"/campaigns/\d+/prompt$"))
    before = await page.locator("[data-testid=current-version]").inner_text()

    prompt = page.locator("#prompt-text")
    await prompt.fill("You write for a web studio.\nOffer: {{ offer }}\nTheir age: {{ age }}")
    await page.get_by_role("button", name="Save as the current prompt").click()
    await expect(page.locator("[data-testid=prompt-error]")).to_contain_text("line 3")
    await expect(prompt).to_have_value(re.compile(r"Their age: \{\{ age \}\}$"))

    await prompt.fill("You write for a web studio.\nOffer: {{ offer }}\nAsk one question.")
    await page.get_by_role("button", name="Save as the current prompt").click()
    current = page.locator("[data-testid=current-version]")
    await expect(current).not_to_have_text(before)
    versions = page.locator("[data-testid=versions] tbody tr")
    await expect(versions).to_have_count(2)
    await expect(versions.first.locator("[data-testid=current]")).to_be_visible()
    diff = page.locator("[data-testid=diff]")
    await expect(diff.locator("tr[data-kind=added], tr[data-kind=changed]").first).to_be_visible()
    await expect(diff).to_contain_text("Ask one question.")
