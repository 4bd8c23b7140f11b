"""The scene editor in a browser: a broken line gets its error at that line as the admin types
(a marker in the gutter and a list entry that jumps there), nothing is saved; fixing it clears
the errors; saving makes version 1; simulating shows a timeline. Leaves
``tests/browser/screenshots/scene-editor.png`` (the errors at their lines, for the README)."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENSHOTS, Panel, sign_in

GOOD = """\
title: Welcome
roles: host, guest
vars: product = CoolThing

host: {Hi|Hello} everyone, welcome to {product}!
wait 5-10s
guest: Thanks! Where do I start?
"""
BROKEN = GOOD.replace("guest: Thanks!", "gust: Thanks!").replace("wait 5-10s", "wait 5-10x")


async def test_an_admin_sees_errors_at_their_lines_as_they_type_then_saves_and_simulates(
    panel: Panel, page: Page
) -> None:
    password = panel.create_user("sasha", "admin")
    await sign_in(page, panel, "sasha", password)
    await page.goto(f"{panel.url}/scenes")
    await page.get_by_role("link", name="New scene").click()
    await page.locator("#scene-name").fill("browser-welcome")
    source = page.locator("#scene-source")

    await source.fill(BROKEN)
    errors = page.locator("#scene-errors [data-line]")
    await expect(errors).to_have_count(2)
    await expect(page.locator('#scene-errors [data-line="6"]')).to_contain_text("line 6")
    await expect(page.locator('#scene-errors [data-line="7"]')).to_contain_text("unknown role")
    await expect(page.locator('[data-gutter-line="7"]')).to_have_class(re.compile("has-error"))
    await expect(page.locator('[data-gutter-line="5"]')).not_to_have_class(re.compile("has-error"))
    await page.locator('#scene-errors [data-line="7"]').click()
    caret = await source.evaluate("t => t.value.slice(0, t.selectionStart).split('\\n').length")
    assert caret == 7  # the click put the caret on the line with the error
    await page.screenshot(path=SCREENSHOTS / "scene-editor.png", full_page=True)  # for the README

    await page.get_by_role("button", name="Create the scene").click()
    await expect(page.locator("#scene-errors [data-line]")).to_have_count(2)  # nothing saved
    await expect(source).to_have_value(re.compile("gust: Thanks!"))

    await source.fill(GOOD)
    await expect(page.locator("[data-testid=scene-ok]")).to_be_visible()
    await expect(page.locator("#scene-errors [data-line]")).to_have_count(0)
    await expect(page.locator(".scene-gutter .has-error")).to_have_count(0)
    await page.get_by_role("button", name="Create the scene").click()
    await expect(page).to_have_url(re.compile(r"/scenes/\d+$"))
    await expect(page.locator('[data-testid=scene-versions] [data-version="1"]')).to_be_visible()

    await page.locator("#sim-seed").fill("7")
    await page.locator("[data-testid=simulate]").click()
    timeline = page.locator("[data-testid=timeline]")
    await expect(timeline.locator('tr[data-kind="say"]')).to_have_count(2)
    await expect(timeline).to_contain_text("welcome to CoolThing!")
    await expect(page.locator("[data-testid=timeline-problems]")).to_contain_text(
        "role host has no account"
    )
