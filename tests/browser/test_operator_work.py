"""An operator's day in a real browser against the running stack: a lead appears on the leads
page without a reload with the second stage's verdict, its held draft is approved in the inbox and
the DM reaches the person in the sandbox; the inbox's live refresh loses no click, typing or
highlight; a seller's "maybe" marked "Lead" in the list gets a draft; an operator may not open the
users page; the panel switches to Russian."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import SCREENSHOTS, OwnCampaign, Panel, sign_in
from tests.conftest import wait_for

LEAD = 760_001


async def dms_to(panel: Panel, user_id: int) -> list[str]:
    async with httpx.AsyncClient(timeout=10) as http:
        listed = (await http.get(f"{panel.sandbox_url}/_sandbox/dms?user={user_id}")).json()
    return [m["text"] for m in listed["messages"] if m["to"]["user_id"] == user_id]


async def awaiting_approval(page: Page, panel: Panel, own: OwnCampaign) -> Locator:
    """The inbox's conversations awaiting approval in ``own``, once its one draft is there."""
    await page.goto(f"{panel.url}/inbox?need=needs_approval&campaign={own.id}")
    conversation = page.locator("[data-testid=conversations] [data-conversation]")
    await expect(conversation).to_have_count(1, timeout=30_000)
    return conversation


async def test_a_lead_appears_live_and_its_approved_draft_reaches_the_person(
    panel: Panel, page: Page
) -> None:
    own = await panel.own_campaign("daily")
    password = panel.create_user("oksana", "operator")
    await sign_in(page, panel, "oksana", password)
    await page.goto(f"{panel.url}/leads?campaign={own.id}")
    await expect(page.locator("[data-testid=lead-total]")).to_contain_text("0 leads")

    await panel.say(own.chat, LEAD, "Мария", "Ищу разработчика для интернет-магазина")
    rows = page.locator("[data-testid=leads] tr[data-lead]")
    await expect(rows).to_have_count(1, timeout=30_000)  # no reload: the live feed brought it
    await expect(rows.first).to_contain_text("Мария")
    await expect(rows.first.locator("[data-verdict=lead]")).to_be_visible()
    await expect(rows.first.locator("[data-testid=score]")).to_be_visible()

    conversation = await awaiting_approval(page, panel, own)
    await conversation.first.click()
    draft = page.locator("[data-testid=draft]")
    await expect(draft).to_be_visible()
    await expect(page.locator("[data-testid=context]")).to_contain_text("разработчик")
    await expect(page.locator("[data-testid=guardrails]")).to_contain_text("New DMs left today")
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "inbox.png", full_page=True)  # for the README
    await page.keyboard.press("?")
    await expect(page.locator("[data-testid=keys-help]")).to_be_visible()
    await page.keyboard.press("a")  # the operator's key for "approve"
    await expect(draft).to_have_count(0)

    async def delivered() -> list[str] | None:
        got = await dms_to(panel, LEAD)
        return got or None

    await wait_for(delivered, seconds=60, what="the approved DM in the sandbox")
    assert len(await dms_to(panel, LEAD)) == 1


async def live_refresh_of_the_inbox(page: Page) -> None:
    """What a draft, a send or an opt-out anywhere makes the inbox do: refetch its list and
    redraw it. Returns once the redrawn list has settled."""
    await page.evaluate(
        """() => new Promise((settled) => {
            document.addEventListener("htmx:afterSettle", function done(event) {
                if (!event.detail.pathInfo.requestPath.startsWith("/inbox?")) return;
                document.removeEventListener("htmx:afterSettle", done);
                settled();
            });
            htmx.trigger(document.querySelector(".inbox"), "htmx:sseOpen");
        })"""
    )


async def test_a_live_refresh_of_the_inbox_loses_no_click_no_typing_and_no_highlight(
    panel: Panel, page: Page
) -> None:
    own = await panel.own_campaign("steady")
    password = panel.create_user("lena", "operator")
    await sign_in(page, panel, "lena", password)
    await panel.say(own.chat, LEAD + 2, "Алла", "Ищу разработчика для интернет-магазина")
    conversation = await awaiting_approval(page, panel, own)

    search = page.locator(".inbox input[name=q]")
    await search.fill("Ал")  # half typed when the list is redrawn
    await live_refresh_of_the_inbox(page)
    await expect(search).to_have_value("Ал")
    await search.fill("")

    box = await conversation.first.bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.mouse.down()
    await live_refresh_of_the_inbox(page)  # between the press and the release
    await page.mouse.up()
    await expect(page.locator("[data-testid=draft]")).to_be_visible()
    await expect(conversation.first).to_have_class(re.compile(r"\bactive\b"))
    await live_refresh_of_the_inbox(page)
    await expect(conversation.first).to_have_class(re.compile(r"\bactive\b"))


async def test_a_maybe_marked_lead_in_the_list_changes_its_row_and_gets_a_draft(
    panel: Panel, page: Page
) -> None:
    own = await panel.own_campaign("teach")
    password = panel.create_user("taras", "operator")
    await sign_in(page, panel, "taras", password)
    await page.goto(f"{panel.url}/leads?campaign={own.id}")
    await panel.say(own.chat, LEAD + 1, "Пётр", "Я разработчик, делаю сайты под ключ, пишите в лс")
    row = page.locator("[data-testid=leads] tr[data-lead]").first
    await expect(row.locator("[data-verdict=maybe]")).to_be_visible(timeout=30_000)
    await expect(row.locator("[data-testid=reason]")).not_to_be_empty()

    await row.locator("[data-mark=lead]").click()  # htmx posts it with the page's CSRF token

    await expect(row.locator("[data-verdict=lead]")).to_be_visible(timeout=15_000)
    await expect(row.locator("[data-mark=lead]")).to_have_count(0)
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "leads.png", full_page=True)  # for the README
    await awaiting_approval(page, panel, own)  # the manager wrote a draft


async def test_an_operator_may_not_open_users_and_switches_the_panel_to_russian(
    panel: Panel, page: Page
) -> None:
    password = panel.create_user("ivan", "operator")
    await sign_in(page, panel, "ivan", password)
    await expect(page.locator("a[href='/users']")).to_have_count(0)
    refused = await page.goto(f"{panel.url}/users")
    assert refused is not None and refused.status == 403
    await expect(page.get_by_text("Your role may not open this page.")).to_be_visible()

    await page.goto(f"{panel.url}/inbox")
    async with page.expect_navigation():
        await page.locator("[data-testid=language]").select_option("ru")
    await expect(page.locator(".page-title")).to_contain_text("Входящие")
    await page.reload()
    await expect(page.locator(".page-title")).to_contain_text("Входящие")  # it is remembered
