"""The phone login against the real sandbox over HTTP, below the panel: the sandbox adapter of the
login port, the panel's logins in progress (one per person, gone after ten minutes), a code that
expires after wrong guesses, and the account's phone and own cap kept by the workspace file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from admin.setup.account_login import LOGIN_TTL, LoginDesk, NoLogin, flow_factory
from admin.setup.accounts import AccountForm
from admin.setup.keyword_sets import SetupError
from admin.workspace.apply import apply_workspace, read_workspace
from admin.workspace.export import export_workspace
from bots.login_sandbox import SandboxLogin
from core.db import Database
from core.db.models import Account
from core.security import SecretBox
from core.settings import Settings
from core.telegram_login import BadPhone, CodeExpired, LoggedIn, WrongCode
from sandbox.bootstrap import RunningSandbox

PHONE = "+79995550101"


async def _code(sandbox: RunningSandbox, phone: str = PHONE) -> str:
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        found = (await http.get("/_sandbox/login-codes", params={"phone": phone})).json()
    assert found["ok"], found
    return str(found["code"])


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def desk(sandbox: RunningSandbox) -> AsyncIterator[tuple[LoginDesk, Clock]]:
    clock = Clock()
    made = LoginDesk(flow_factory(Settings(sandbox_url=sandbox.url)), clock=clock)
    yield made, clock
    for user in ("alina", "boris"):
        await made.cancel(user)


FORM = AccountForm(name="new-seller", role="manager", phone=PHONE)


async def test_a_new_number_signs_up_and_its_session_works(sandbox: RunningSandbox) -> None:
    flow = SandboxLogin(sandbox.url)
    try:
        await flow.send_code(PHONE)
        with pytest.raises(WrongCode):
            await flow.sign_in("000000")
        logged_in = await flow.sign_in(await _code(sandbox))
    finally:
        await flow.close()
    assert isinstance(logged_in, LoggedIn)
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        me = await http.get("/user/me", headers={"Authorization": f"Session {logged_in.session}"})
    assert me.json()["profile"]["user_id"] == logged_in.telegram_user_id


async def test_three_wrong_codes_expire_the_code(sandbox: RunningSandbox) -> None:
    flow = SandboxLogin(sandbox.url)
    try:
        await flow.send_code(PHONE)
        for _ in range(3):
            with pytest.raises(WrongCode):
                await flow.sign_in("000000")
        with pytest.raises(CodeExpired, match="ask again"):
            await flow.sign_in("12345")
    finally:
        await flow.close()


async def test_a_banned_number_is_refused_at_the_phone(sandbox: RunningSandbox) -> None:
    sandbox.world.add_account("Banned")[0].banned = True
    account = next(a for a in sandbox.world.accounts.values() if a.banned)
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        await http.put(f"/_sandbox/accounts/{account.user.id}/phone", json={"phone": PHONE})
    flow = SandboxLogin(sandbox.url)
    try:
        with pytest.raises(BadPhone, match="banned"):
            await flow.send_code(PHONE)
    finally:
        await flow.close()


async def test_each_person_has_their_own_login_and_it_ends_after_ten_minutes(
    desk: tuple[LoginDesk, Clock], sandbox: RunningSandbox
) -> None:
    logins, clock = desk
    await logins.start("alina", FORM, account_id=None, proxy=None)
    assert logins.pending("boris") is None  # another person has none
    with pytest.raises(NoLogin):
        await logins.code("boris", "12345")
    clock.now += LOGIN_TTL - timedelta(seconds=1)
    assert logins.pending("alina") is not None
    clock.now += timedelta(seconds=1)
    assert logins.pending("alina") is None
    with pytest.raises(NoLogin, match="expires after 10 minutes"):
        await logins.code("alina", await _code(sandbox))


async def test_a_refused_form_sends_no_code(
    desk: tuple[LoginDesk, Clock], sandbox: RunningSandbox
) -> None:
    logins, _ = desk
    bad = AccountForm(name="x", role="manager", phone=PHONE, proxy="ftp://host:21")
    with pytest.raises(SetupError, match="unknown proxy scheme"):
        await logins.start("alina", bad, account_id=None, proxy=None)
    assert logins.pending("alina") is None
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        found = (await http.get("/_sandbox/login-codes", params={"phone": PHONE})).json()
    assert found["ok"] is False  # Telegram was never asked


async def test_the_workspace_file_keeps_an_accounts_phone_and_own_cap(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    path = tmp_path / "ws.yaml"
    path.write_text(
        "accounts:\n"
        "  - {name: seller, role: manager, session: s1, phone: '+7 999 555-01-01', "
        "daily_cap: 20, proxy: 'socks5://u:p@127.0.0.1:1080'}\n",
        encoding="utf-8",
    )
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    async with database.session() as session:
        exported = await export_workspace(session)
    assert "phone: '+79995550101'" in exported and "daily_cap: 20" in exported
    assert "socks5" not in exported
    path.write_text(exported, encoding="utf-8")  # applied back: the proxy stays stored
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
        again = await export_workspace(session)
        stored = await session.scalar(select(Account).where(Account.name == "seller"))
    assert again == exported
    assert stored is not None and stored.proxy_secret is not None
    assert secret_box.decrypt(stored.proxy_secret) == "socks5://u:p@127.0.0.1:1080"
