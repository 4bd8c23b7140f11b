"""`make run`'s `coolthing demo` as a newcomer meets it: the owner's login printed once, the panel
signing them in, leads from the simulated audience on the panel's leads page, an account added in
the panel reading its DMs without a restart; and in the sandbox's Telegram web view, a draft
waiting in the operator's chat with the notifier bot, approved with a click, becoming a DM.

One demo serves the module's tests (it takes half a minute to start)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENSHOTS
from tests.conftest import free_port, wait_for

EMBEDDED = ("COOLTHING_DATABASE_URL", "COOLTHING_BUS_URL", "COOLTHING_ENV", "COOLTHING_SECRET_KEY")


class Demo:
    def __init__(self, folder: Path) -> None:
        self.log = folder / "demo.log"
        self.api = f"http://127.0.0.1:{free_port()}"
        self.sandbox = f"http://127.0.0.1:{free_port()}"
        env = {k: v for k, v in os.environ.items() if k not in EMBEDDED}  # the embedded defaults
        env |= {
            "COOLTHING_API_PORT": self.api.rsplit(":", 1)[1],
            "COOLTHING_SANDBOX_PORT": self.sandbox.rsplit(":", 1)[1],
        }
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "coolthing", "demo", "--rate", "8"],
                cwd=folder,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def printed(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    running = Demo(tmp_path_factory.mktemp("demo"))
    try:
        yield running
    finally:
        running.process.send_signal(signal.SIGINT)
        try:
            running.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait(timeout=10)


async def test_a_newcomer_signs_in_with_the_printed_login_and_watches_the_demo_work(
    demo: Demo,
) -> None:
    async def printed_password() -> str | None:
        found = re.search(r"password:\s+(\S+)", demo.printed())
        return found.group(1) if found else None

    password = str(await wait_for(printed_password, seconds=90, what="the owner's password"))
    token = re.search(r"API token:\s+(\S+)", demo.printed())
    assert token is not None and "login:     admin" in demo.printed()
    async with httpx.AsyncClient(base_url=demo.api, timeout=10) as panel:

        async def panel_up() -> bool:
            return (await panel.get("/healthz")).status_code == 200

        await wait_for(panel_up, seconds=60, what="the panel")
        signed_in = await panel.post("/login", data={"login": "admin", "password": password})
        assert signed_in.status_code == 303, signed_in.text
        dashboard = await panel.get("/")
        assert dashboard.status_code == 200 and "Dashboard" in dashboard.text

        async def a_lead_listed() -> bool:
            return "data-lead=" in (await panel.get("/leads")).text

        await wait_for(a_lead_listed, seconds=90, what="a lead on the leads page", interval=1)

        # An account added while the demo runs gets its worker: a DM to it is read and printed.
        async with httpx.AsyncClient(base_url=demo.sandbox, timeout=10) as sandbox:
            made = await sandbox.post("/_sandbox/accounts", json={"first_name": "Newcomer"})
            account = made.json()
            api = {"Authorization": f"Bearer {token.group(1)}"}
            body = {"name": "new-manager", "role": "manager", "session": account["session"]}
            added = await panel.post("/api/v1/accounts", json=body, headers=api)
            assert added.status_code == 201, added.text
            user = await sandbox.post("/_sandbox/users", json={"first_name": "Vera"})
            vera = user.json()["profile"]["user_id"]

            async def dm_read() -> bool:
                await sandbox.post(
                    "/_sandbox/dm",
                    json={"user_id": vera, "to": account["user_id"], "text": "hello there"},
                )
                return "reply from Vera: hello there" in demo.printed()

            await wait_for(dm_read, seconds=60, what="the new account's worker", interval=2)


async def test_the_demos_leads_list_shows_who_is_not_written_to_and_why(
    demo: Demo, page: Page
) -> None:
    found = re.search(r"password:\s+(\S+)", demo.printed())
    assert found is not None, "the first test waited for the printed login"
    await page.set_viewport_size({"width": 1440, "height": 900})
    await page.goto(demo.api + "/login")
    await page.locator("input[name=login]").fill("admin")
    await page.locator("input[name=password]").fill(found.group(1))
    async with page.expect_navigation():
        await page.locator("form[action='/login'] button[type=submit]").click()

    maybe = page.locator("tr[data-intent=maybe]").first
    for _ in range(60):  # the audience's sellers and job seekers speak every few seconds
        await page.goto(demo.api + "/leads")
        if await maybe.count() and await page.locator("tr[data-intent=lead]").count():
            break
        await page.wait_for_timeout(2_000)

    await expect(maybe).to_contain_text("Maybe")
    await expect(maybe.get_by_test_id("reason")).to_contain_text("«")
    await expect(maybe.get_by_role("button", name="Lead", exact=True)).to_be_visible()
    await expect(page.locator("tr[data-intent=lead]").first).to_contain_text("Lead")
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "demo-leads.png")  # the README's picture


async def test_a_draft_waiting_in_the_operators_telegram_chat_is_approved_with_a_click(
    demo: Demo, page: Page
) -> None:
    async with httpx.AsyncClient(base_url=demo.sandbox, timeout=5) as sandbox:
        await wait_for(lambda: sandbox.get("/_sandbox/health"), seconds=90, what="the demo")
    await page.goto(demo.sandbox + "/")
    await page.locator(".chat-item", has_text="You (operator)").click()
    newest = page.locator("li.msg", has_text="Draft to approve").last
    await expect(newest).to_be_visible(timeout=120_000)
    alert = page.locator(f'li.msg[data-id="{await newest.get_attribute("data-id")}"]')
    said = re.search(r"\n(.+?) in \S+ wrote:", await alert.inner_text())
    assert said is not None
    person = said.group(1).split(" (@")[0]

    await alert.get_by_role("button", name="Approve").click()

    await expect(page.locator(".toast", has_text="Done.")).to_be_visible()
    await expect(alert).to_contain_text("Approved by admin")
    await expect(alert.get_by_role("button", name="Approve")).to_have_count(0)
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "telegram-notifier.png")  # the README's picture
    # the lead's chat with a manager account (keys d_<account>_<peer>), not a group they wrote in
    dm = (
        page.locator('.chat-item[data-key^="d_"]')
        .filter(has=page.locator(".chat-title", has_text=person))
        .first
    )
    await expect(dm).to_be_visible(timeout=30_000)
    await dm.click()
    await expect(page.locator("li.msg .msg-from", has_text="Manager").first).to_be_visible()
