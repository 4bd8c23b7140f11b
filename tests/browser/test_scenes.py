"""Scenes in a browser. The editor: a broken line gets its error at that line as the admin types
(a marker in the gutter and a list entry that jumps there), nothing is saved; fixing it clears
the errors; saving makes version 1; simulating shows a timeline. A run: an operator starts one
in an own chat and watches its lines and a member's message tick in on the live page. Leaves
``tests/browser/screenshots/scene-editor.png`` and ``scene-run.png`` (for the README)."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENSHOTS, Panel, sign_in
from tests.conftest import bearer, consuming, sandbox_call, wait_for

LIVE_CHAT = "scenes_launch"

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
    await page.wait_for_url(f"{panel.url}/scenes/new")
    # htmx binds "check as you type" once the page's scripts ran: typing earlier sends nothing.
    await page.wait_for_load_state("load")
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

    async with page.expect_response(lambda r: r.url.endswith("/scenes")) as answered:
        await page.get_by_role("button", name="Create the scene").click()
    assert (await answered.value).status == 422  # nothing saved
    await expect(page.locator("#scene-errors [data-line]")).to_have_count(2)
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


LIVE = """\
title: Launch
roles: host, guest

host: Welcome to the launch, everyone!
listen 30s
  when anything
    guest [reply member]: Thanks for writing, {member}!
  when silent
    guest: Quiet crowd today.
end
host: That's all for now.
"""


async def _scripts_mode(panel: Panel, http: httpx.AsyncClient) -> dict[str, int]:
    """An own sandbox chat, two scripts accounts with their workers and the scripts service
    (time halved): returns the accounts' ids by name."""
    stack = panel.stack
    await sandbox_call(http, stack, "/_sandbox/chats", {"ref": LIVE_CHAT, "title": "Launch"})
    sessions = [
        (await sandbox_call(http, stack, "/_sandbox/accounts", {"first_name": name}))["session"]
        for name in ("Host", "Guest")
    ]
    workspace = f"""\
accounts:
  - {{name: scene-host, role: scripts, session: "{sessions[0]}"}}
  - {{name: scene-guest, role: scripts, session: "{sessions[1]}"}}
chats:
  - {{ref: "@{LIVE_CHAT}", title: Launch, own: true}}
"""
    path = stack.logs / "scenes.yaml"
    path.write_text(workspace, "utf-8")
    applied = stack.command("workspace", "apply", str(path))
    assert applied.returncode == 0, applied.stderr.decode()
    accounts = (await http.get(f"{panel.url}/api/v1/accounts")).json()
    ids = {a["name"]: a["id"] for a in accounts if a["name"].startswith("scene-")}
    stack.env["COOLTHING_SCENE_TIME_SCALE"] = "0.5"
    stack.start("scripts", "scripts")
    for account in ids.values():
        stack.start(f"bots-{account}", "bots", "--account", str(account))
    queues = ["scripts.commands", *(f"bots.account.{n}" for n in ids.values())]
    bus = stack.env["COOLTHING_BUS_URL"]
    await wait_for(lambda: consuming(bus, queues), seconds=30, what=f"consumers on {queues}")
    return ids


async def test_an_operator_starts_a_run_and_watches_lines_and_a_member_tick_in_live(
    panel: Panel, page: Page
) -> None:
    async with httpx.AsyncClient(timeout=10, headers=bearer(panel.token)) as http:
        ids = await _scripts_mode(panel, http)
        cast = {"host": ids["scene-host"], "guest": ids["scene-guest"]}
        scene = {"name": "live-launch", "source": LIVE, "cast": cast}
        made = await http.post(f"{panel.url}/api/v1/scenarios", json=scene)
        assert made.status_code == 201, made.text
        scenario = made.json()["id"]

        password = panel.create_user("oleg", "operator")
        await sign_in(page, panel, "oleg", password)
        await page.goto(f"{panel.url}/scenes/{scenario}/start")
        await expect(page.locator("#run-chat option")).to_have_text(["Launch (@scenes_launch)"])
        await page.locator("[data-testid=start-run]").click()
        await expect(page).to_have_url(re.compile(r"/runs/\d+$"))
        feed = page.locator("[data-testid=run-feed]")
        await expect(feed.locator('[data-line-status="sent"]')).to_have_count(1, timeout=30_000)
        await expect(page.locator("[data-testid=run-state]")).to_have_attribute(
            "data-state", "listening"
        )

        maria = {"user_id": 880_777, "first_name": "Maria"}
        body = {"chat": f"@{LIVE_CHAT}", "text": "So happy to be here!", "user": maria}
        await sandbox_call(http, panel.stack, "/_sandbox/post", body)
        await expect(feed.locator('[data-line-status="sent"]')).to_have_count(3, timeout=30_000)
        await expect(page.locator("[data-testid=run-live]")).to_have_attribute(
            "data-status", "finished", timeout=15_000
        )
        items = feed.locator("[data-line-status], [data-member-message]")
        await expect(items).to_have_count(4)
        await expect(items.nth(1)).to_contain_text("So happy to be here!")
        await expect(items.nth(2)).to_contain_text("Thanks for writing, Maria!")
        await expect(feed).to_contain_text("#")  # each sent line shows its Telegram message id
        await page.screenshot(path=SCREENSHOTS / "scene-run.png", full_page=True)  # the README's
