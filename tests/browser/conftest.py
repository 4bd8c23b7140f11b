"""Browser fixtures: the panel served by the real stack (each service its own `coolthing` process,
as in the e2e tier), driven through Playwright in Debian's chromium (`compose/ensure-browser.sh`
installs it; never a downloaded browser build). Every test leaves a full-page screenshot in
``tests/browser/screenshots/<test name>.png``, pass or fail."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Response, Route, async_playwright

from tests.conftest import Stack, boot_outreach_mode, outreach_workspace

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
HERE = Path(__file__).parent

CHAT = "web_jobs"
OWNER_LOGIN = "owner1"
OWNER_PASSWORD = "owner-password-123"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/browser carries the ``browser`` mark."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium; never a downloaded browser build."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run ./compose/ensure-browser.sh (make test does)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """Chromium, headless, with a fresh temporary profile."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            await launched.close()


async def _only_loopback(route: Route) -> None:
    """Tests talk to 127.0.0.1 only: anything else (a CDN script, say) is refused at once
    instead of waiting on a network that is not there."""
    if urlsplit(route.request.url).hostname in {"127.0.0.1", "localhost"}:
        await route.continue_()
    else:
        await route.abort("blockedbyclient")


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh context per test: no cookies or storage from another test."""
    fresh = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    fresh.set_default_timeout(15_000)
    await fresh.route("**/*", _only_loopback)
    try:
        yield fresh
    finally:
        await fresh.close()


@pytest.fixture
async def page(context: BrowserContext, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A page; after the test, pass or fail, its full-page screenshot is saved."""
    opened = await context.new_page()
    yield opened
    if not opened.is_closed():
        SCREENSHOTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")
        await opened.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


@dataclass(frozen=True)
class Panel:
    """The running panel: where it is and who may sign in."""

    stack: Stack
    url: str  # the admin's base URL, no trailing slash
    sandbox_url: str
    login: str  # the owner's
    password: str

    def create_user(self, login: str, role: str, password: str | None = None) -> str:
        """A user of ``role`` made with the real CLI; returns the password."""
        password = password or f"{login}-password-123"
        made = self.stack.command(
            "users", "create", login, "--role", role, stdin=f"{password}\n".encode()
        )
        assert made.returncode == 0, made.stderr.decode()
        return password


def _workspace(sessions: list[str]) -> str:
    """One campaign on one chat: a parser account and two manager accounts."""
    outreach = """\
      offer: "We build web apps in four weeks."
      approval: true  # drafts wait, so a browser test can decide on one
      quiet_hours: null
      min_gap_seconds: 0
      max_gap_seconds: 0
      warmup_days: 0"""
    return outreach_workspace(sessions, CHAT, outreach)


@pytest.fixture
async def panel(stack: Stack) -> AsyncIterator[Panel]:
    """The stack in outreach mode (sandbox, parser, manager, admin, a worker per account) with
    the one-campaign workspace, and an owner made with the CLI."""
    async with httpx.AsyncClient(timeout=10) as http:
        await boot_outreach_mode(stack, http, CHAT, _workspace)
    running = Panel(
        stack=stack,
        url=stack.api_url,
        sandbox_url=stack.sandbox_url,
        login=OWNER_LOGIN,
        password=OWNER_PASSWORD,
    )
    running.create_user(OWNER_LOGIN, "owner", OWNER_PASSWORD)
    yield running


async def sign_in(page: Page, panel: Panel, login: str, password: str) -> Response | None:
    """Fill the login form and submit it; returns the response the browser landed on (after any
    redirects: the panel's page when signed in, the form again with its error when refused)."""
    await page.goto(f"{panel.url}/login")
    await page.locator("input[name=login]").fill(login)
    await page.locator("input[name=password]").fill(password)
    async with page.expect_navigation() as navigation:
        await page.locator("form[action='/login'] button[type=submit]").click()
    return await navigation.value
