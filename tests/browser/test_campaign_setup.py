"""Setting up a campaign from the browser in the running stack: an account added on the accounts
page, a chat by its link, a keyword set, then the campaign with who counts as a lead (refusals
beside their fields first, the input kept), started with its button; a matching message posted
in the sandbox chat appears on the leads page without a reload."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import Panel, sign_in
from tests.conftest import wait_for

CHAT = "design_jobs"
LEAD = 790_001


async def _sandbox(panel: Panel, method: str, path: str, body: object = None) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=panel.sandbox_url, timeout=10) as http:
        answer = await http.request(method, path, json=body)
    payload: dict[str, object] = answer.json()
    assert payload["ok"], payload
    return payload


async def test_an_admin_sets_up_and_starts_a_campaign_and_its_first_lead_arrives_live(
    panel: Panel, page: Page
) -> None:
    await _sandbox(panel, "POST", "/_sandbox/chats", {"ref": CHAT, "title": "Design jobs"})
    made = await _sandbox(panel, "POST", "/_sandbox/accounts", {"first_name": "Vera"})
    password = panel.create_user("irina", "admin")
    await sign_in(page, panel, "irina", password)

    await page.goto(f"{panel.url}/accounts/new")  # the account, with its session string
    await page.locator("#session-name").fill("manager-3")
    await page.locator("#session-role").select_option("manager")
    await page.locator("#session-session").fill(str(made["session"]))
    await page.locator("#session-form").get_by_role("button", name="Save").click()
    await expect(page).to_have_url(re.compile(rf"{re.escape(panel.url)}/accounts/\d+$"))

    await page.goto(f"{panel.url}/chats")  # the chat, by its link
    await page.locator("#chat-ref").fill(f"https://t.me/{CHAT}")
    await page.locator("#chat-title").fill("Design jobs")
    await page.get_by_role("button", name="Add", exact=True).click()
    await expect(page.locator("[data-testid=chats]")).to_contain_text(f"@{CHAT}")

    await page.goto(f"{panel.url}/keyword-sets")  # the words
    await page.locator("#set-name").fill("design")
    await page.locator("#set-keywords").fill("дизайнер\nлоготип")
    await page.get_by_role("button", name="Save").click()
    await expect(page).to_have_url(re.compile(rf"{re.escape(panel.url)}/keyword-sets/\d+$"))

    await page.goto(f"{panel.url}/campaigns/new")  # the campaign
    await page.locator("#campaign-name").fill("design")
    form = page.locator("#campaign-form")
    await form.locator(f"input[name=chats][value='@{CHAT}']").check()
    await form.locator("input[name=keyword_sets][value=design]").check()
    await form.locator("input[name=parser_accounts][value=parser-1]").check()
    await form.locator("input[name=manager_accounts][value=manager-3]").check()
    await page.locator("[id='outreach.offer']").fill("Логотип за неделю.")
    await page.locator("[id='outreach.timezone']").fill("Moscow")
    await page.locator("[id='intent.threshold']").fill("2")
    await form.locator("input[name='intent.below'][value=ask]").check()
    await form.get_by_role("button", name="Save").click()
    refusal = page.locator("[data-error='outreach.timezone']")
    await expect(refusal).to_contain_text("unknown time zone")
    await expect(page.locator("[data-error='intent.threshold']")).to_contain_text("0.95")
    await expect(page.locator("[id='intent.threshold']")).to_have_value("2")
    await expect(form.locator("input[name='intent.below'][value=ask]")).to_be_checked()
    await expect(page.locator("[id='outreach.timezone']")).to_have_value("Moscow")
    await expect(page.locator("[id='outreach.offer']")).to_have_value("Логотип за неделю.")
    await expect(form.locator("input[name=manager_accounts][value=manager-3]")).to_be_checked()

    await page.locator("[id='outreach.timezone']").fill("Europe/Moscow")
    await page.locator("[id='intent.threshold']").fill("0.4")
    await form.get_by_role("button", name="Save").click()
    await expect(page).to_have_url(re.compile(rf"{re.escape(panel.url)}/campaigns/\d+$"))
    await expect(page.locator("[id='intent.threshold']")).to_have_value("0.4")
    await expect(form.locator("input[name='intent.below'][value=ask]")).to_be_checked()
    await expect(page.locator("[data-status]").first).to_have_attribute("data-status", "paused")
    await page.locator("[data-action=active]").click()
    await expect(page.locator("[data-status]").first).to_have_attribute("data-status", "active")

    async def parser_joined() -> bool:
        listed = await _sandbox(panel, "GET", "/_sandbox/chats")
        chats = listed["chats"]
        assert isinstance(chats, list)
        return any(c["members"] for c in chats if c["ref"] == CHAT)

    await wait_for(parser_joined, seconds=60, what="the parser account to join the new chat")
    campaign_id = page.url.rsplit("/", 1)[1]
    await page.goto(f"{panel.url}/leads?campaign={campaign_id}")
    await expect(page.locator("[data-testid=lead-total]")).to_contain_text("0 leads")
    post = {
        "chat": f"@{CHAT}",
        "text": "Нужен дизайнер, чтобы нарисовать логотип для кофейни",
        "user": {"user_id": LEAD, "first_name": "Ксения"},
    }
    await _sandbox(panel, "POST", "/_sandbox/post", post)
    rows = page.locator("[data-testid=leads] tr[data-lead]")
    await expect(rows).to_have_count(1, timeout=30_000)  # no reload: the live feed brought it
    await expect(rows.first).to_contain_text("Ксения")

    await page.goto(f"{panel.url}/campaigns/{campaign_id}")  # the screenshot: its numbers
    await expect(page.locator("[data-number=leads]")).to_have_text("1")
