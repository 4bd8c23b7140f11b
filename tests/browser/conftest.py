"""Browser fixtures: the panel served by the real stack (each service its own `coolthing` process,
as in the e2e tier), driven through Playwright in Debian's chromium (`compose/ensure-browser.sh`
installs it; never a downloaded browser build). Every test leaves a full-page screenshot in
``tests/browser/screenshots/<test name>.png``, pass or fail."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from playwright.async_api import Browser, BrowserContext, Page, Response, Route, async_playwright

from tests.conftest import (
    SERVICE_QUEUES,
    Stack,
    _prepare_database,
    bearer,
    boot_outreach_mode,
    consuming,
    delete_queues,
    free_port,
    outreach_workspace,
    rabbitmqctl,
    reset_postgres,
    sandbox_call,
    wait_for,
)

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
class OwnCampaign:
    """A campaign one test made for itself, with its own chat and manager accounts."""

    id: int
    name: str
    chat: str  # the sandbox chat's ref, without the @


@dataclass(frozen=True)
class Panel:
    """The running panel: where it is and who may sign in."""

    stack: Stack
    url: str  # the admin's base URL, no trailing slash
    sandbox_url: str
    login: str  # the owner's
    password: str
    token: str  # an API token of the owner's

    def create_user(self, login: str, role: str, password: str | None = None) -> str:
        """A user of ``role`` made with the real CLI; returns the password. The stack lives for
        the whole session: each test signs in with a login of its own."""
        password = password or f"{login}-password-123"
        made = self.stack.command(
            "users", "create", login, "--role", role, stdin=f"{password}\n".encode()
        )
        assert made.returncode == 0, made.stderr.decode()
        return password

    async def say(self, chat: str, user_id: int, first_name: str, text: str) -> None:
        """Sandbox user ``user_id`` writes ``text`` in the sandbox chat ``chat`` (no @)."""
        post = {
            "chat": f"@{chat}",
            "text": text,
            "user": {"user_id": user_id, "first_name": first_name},
        }
        async with httpx.AsyncClient(timeout=10) as http:
            await sandbox_call(http, self.stack, "/_sandbox/post", post)

    async def own_campaign(self, name: str) -> OwnCampaign:
        """A campaign like the stack's "web" (parser-1, keyword set web-dev, drafts held for
        approval) on a new sandbox chat ``<name>_jobs``, with two new manager accounts
        ``manager-<name>-1`` and ``-2``, each with its worker running. The stack serves every test
        of the session, so a test that counts (leads, conversations, an account's sends) counts
        in a campaign of its own, where nothing another test did can show."""
        chat = f"{name}_jobs"
        async with httpx.AsyncClient(timeout=10, headers=bearer(self.token)) as http:
            await sandbox_call(http, self.stack, "/_sandbox/chats", {"ref": chat, "title": chat})
            sessions = [
                (await sandbox_call(http, self.stack, "/_sandbox/accounts", body))["session"]
                for body in ({"first_name": f"{name.title()}{n}"} for n in (1, 2))
            ]
            managers = [f"manager-{name}-{n}" for n in (1, 2)]
            accounts_made = dict(zip(managers, sessions, strict=True))
            self._apply(name, _campaign_workspace(name, chat, accounts_made))
            accounts = await _listed(http, f"{self.url}/api/v1/accounts")
            ids = [a["id"] for a in accounts if a["name"] in managers]
            for account in ids:
                self.stack.start(f"bots-{account}", "bots", "--account", str(account))
            campaigns = await _listed(http, f"{self.url}/api/v1/campaigns")
            campaign = next(c["id"] for c in campaigns if c["name"] == name)

            async def parser_listens() -> bool:
                listed = (await sandbox_call(http, self.stack, "/_sandbox/chats"))["chats"]
                return any(c["members"] for c in listed if c["ref"] == chat)

            await wait_for(parser_listens, seconds=60, what=f"the parser account to join {chat}")
        # A draft approved before its account's worker listens would wait in a queue nobody reads.
        queues = [f"bots.account.{account}" for account in ids]
        bus = self.stack.env["COOLTHING_BUS_URL"]
        await wait_for(lambda: consuming(bus, queues), seconds=30, what=f"workers on {queues}")
        return OwnCampaign(id=int(campaign), name=name, chat=chat)

    def _apply(self, name: str, workspace: str) -> None:
        path = self.stack.logs / f"{name}.yaml"
        path.write_text(workspace, "utf-8")
        applied = self.stack.command("workspace", "apply", str(path))
        assert applied.returncode == 0, applied.stderr.decode()


async def _listed(http: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    response = await http.get(url)
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


OUTREACH = """\
      offer: "We build web apps in four weeks."
      approval: true  # drafts wait, so a browser test can decide on one
      quiet_hours: null
      min_gap_seconds: 0
      max_gap_seconds: 0
      warmup_days: 0"""


def _workspace(sessions: list[str]) -> str:
    """One campaign on one chat: a parser account and two manager accounts."""
    return outreach_workspace(sessions, CHAT, OUTREACH)


def _campaign_workspace(name: str, chat: str, managers: dict[str, str]) -> str:
    """Workspace apply only adds and updates: this file names the new accounts and the new
    campaign; parser-1 and web-dev are the stack's."""
    accounts = "\n".join(
        f'  - {{name: {account}, role: manager, session: "{session}"}}'
        for account, session in managers.items()
    )
    return f"""\
accounts:
{accounts}
campaigns:
  - name: {name}
    keyword_sets: [web-dev]
    chats: ["@{chat}"]
    parser_accounts: [parser-1]
    manager_accounts: [{", ".join(managers)}]
    outreach:
{OUTREACH}
"""


# Account workers the tests start (``own_campaign``) get ids past the stack's three; their queues
# outlive a session in the worker's vhost, so they go at the start with the services' own.
WORKER_QUEUES = [f"bots.account.{n}" for n in range(5, 41)]


@contextmanager
def _stack_on(postgres_url: str, amqp_url: str, logs: Path) -> Iterator[Stack]:
    """A stack of `coolthing` processes on an emptied database and vhost, stopped at the end.
    Synchronous, as the Stack is made of subprocesses; its async preparation runs in an event
    loop of its own (a session-scoped async fixture would need pytest-asyncio's session loop)."""
    asyncio.run(reset_postgres(postgres_url))
    asyncio.run(delete_queues(amqp_url, SERVICE_QUEUES + WORKER_QUEUES))
    env = {
        **os.environ,
        "COOLTHING_ENV": "test",
        "COOLTHING_DATABASE_URL": postgres_url,
        "COOLTHING_BUS_URL": amqp_url,
        "COOLTHING_SECRET_KEY": Fernet.generate_key().decode(),
        "COOLTHING_SANDBOX_PORT": str(free_port()),
        "COOLTHING_API_PORT": str(free_port()),
        "COOLTHING_JOIN_INTERVAL": "0",
        "COOLTHING_LOG_LEVEL": "INFO",
    }
    env["COOLTHING_SANDBOX_URL"] = f"http://127.0.0.1:{env['COOLTHING_SANDBOX_PORT']}"
    stack = Stack(env, logs)
    try:
        yield stack
    finally:
        stack.stop_all()
    # Containers get SIGTERM and a grace period: every service must stop well within it.
    assert not stack.slow_to_stop, f"needed SIGKILL after 15 s: {stack.slow_to_stop}"


async def _boot(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        await boot_outreach_mode(stack, http, CHAT, _workspace)


def _panel_on(stack: Stack) -> Panel:
    """Boot ``stack`` in outreach mode and make the owner, with an API token, with the CLI."""
    asyncio.run(_boot(stack))
    made = Panel(
        stack=stack,
        url=stack.api_url,
        sandbox_url=stack.sandbox_url,
        login=OWNER_LOGIN,
        password=OWNER_PASSWORD,
        token="",
    )
    made.create_user(OWNER_LOGIN, "owner", OWNER_PASSWORD)
    token = stack.command("users", "token", "create", OWNER_LOGIN, "--name", "browser")
    assert token.returncode == 0, token.stderr.decode()
    return replace(made, token=token.stdout.decode().strip())


def _own_resources(postgres_url: str, amqp_url: str, suffix: str) -> tuple[str, str]:
    """A database and a vhost beside the test process's own (``…<suffix>``), created once."""
    database, vhost = postgres_url + suffix, amqp_url + suffix
    asyncio.run(_prepare_database(postgres_url, database))
    name = unquote(urlsplit(vhost).path[1:])
    asyncio.run(rabbitmqctl("add_vhost", name))  # succeeds when it exists
    asyncio.run(rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*"))
    return database, vhost


@pytest.fixture(scope="package")
def panel(
    postgres_url: str, amqp_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Panel]:
    """The stack in outreach mode (sandbox, parser, manager, admin, a worker per account) with
    the one-campaign workspace, and an owner made with the CLI: booted once for the browser
    tests of a test process and shared by them, as booting takes half a minute. It runs on a
    database and vhost of its own (``…_browser``): the other tiers reset theirs between tests,
    which would pull the floor from under it. A test that counts makes what it counts its own
    (``Panel.own_campaign``, logins, chats and lead user ids of its own)."""
    database, vhost = _own_resources(postgres_url, amqp_url, "_browser")
    logs = tmp_path_factory.mktemp("browser-stack")
    with _stack_on(database, vhost, logs) as stack:
        yield _panel_on(stack)


@pytest.fixture
def own_panel(postgres_url: str, amqp_url: str, tmp_path: Path) -> Iterator[Panel]:
    """A stack of the test's own, on a database and vhost of its own (``…_own``) so that it
    runs beside the shared one: for a test whose numbers span every campaign."""
    database, vhost = _own_resources(postgres_url, amqp_url, "_own")
    with _stack_on(database, vhost, tmp_path) as stack:
        yield _panel_on(stack)


async def sign_in(page: Page, panel: Panel, login: str, password: str) -> Response | None:
    """Fill the login form and submit it; returns the response the browser landed on (after any
    redirects: the panel's page when signed in, the form again with its error when refused)."""
    await page.goto(f"{panel.url}/login")
    await page.locator("input[name=login]").fill(login)
    await page.locator("input[name=password]").fill(password)
    async with page.expect_navigation() as navigation:
        await page.locator("form[action='/login'] button[type=submit]").click()
    return await navigation.value
