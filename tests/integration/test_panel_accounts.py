"""Accounts from the panel and the API: the workspace file's rules with the reason next to the
field, nothing written on a refusal, secrets never sent back, a state in words that tells a
connection problem from a ban, deleting refused while a running campaign uses the account, and
adding one by phone through the real sandbox (code, then the two-step password)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from admin.workspace.apply import apply_workspace, read_workspace
from core.access import Role
from core.bus.factory import make_bus
from core.db import Database
from core.db.models import Account, AccountEvent, AuditEntry, Campaign
from core.security import SecretBox
from sandbox.bootstrap import RunningSandbox
from tests.conftest import PASSWORD, add_people, admin_app, bearer
from tests.integration.conftest import workspace

SESSION = "top-secret-session-4242"
PROXY = "socks5://user:proxy-pass-77@127.0.0.1:1080"


@dataclass
class Panel:
    browser: httpx.AsyncClient  # a signed-in admin, cookies and CSRF
    api: httpx.AsyncClient  # an admin's token, base /api/v1
    viewer: httpx.AsyncClient  # a viewer's token, base /api/v1
    db: Database
    app: FastAPI
    sandbox: RunningSandbox

    @property
    def box(self) -> SecretBox:
        box: SecretBox = self.app.state.box
        return box


@pytest.fixture
async def panel(
    database: Database, secret_box: SecretBox, tmp_path: Path, sandbox: RunningSandbox
) -> AsyncIterator[Panel]:
    path = tmp_path / "ws.yaml"
    path.write_text(workspace(), encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    tokens = await add_people(database)
    app = admin_app(database, make_bus("memory://"), sandbox_url=sandbox.url)
    app.exception_handlers.pop(Exception)  # a 500 fails the test loudly
    transport = httpx.ASGITransport(app=app)
    base = "http://127.0.0.1"
    async with (
        httpx.AsyncClient(transport=transport, base_url=base) as browser,
        httpx.AsyncClient(
            transport=transport, base_url=f"{base}/api/v1", headers=bearer(tokens[Role.admin])
        ) as api,
        httpx.AsyncClient(
            transport=transport, base_url=f"{base}/api/v1", headers=bearer(tokens[Role.viewer])
        ) as viewer,
    ):
        signed = await browser.post("/login", data={"login": "admin", "password": PASSWORD})
        assert signed.status_code == 303
        browser.headers["X-CSRFToken"] = browser.cookies["csrftoken"]
        yield Panel(browser, api, viewer, database, app, sandbox)


async def _count(db: Database, model: type[Account] | type[AuditEntry]) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _account(db: Database, name: str) -> Account:
    async with db.session() as session:
        found = await session.scalar(select(Account).where(Account.name == name))
    assert found is not None, name
    return found


FORM = {"name": "seller-9", "role": "manager", "status": "active", "session": SESSION}


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"proxy": "ftp://u:proxy-pass-77@host:21"}, "proxy", "unknown proxy scheme"),
        ({"proxy": "socks5://u:proxy-pass-77@:1080"}, "proxy", "no host"),
        ({"daily_cap": "many"}, "daily_cap", "a whole number"),
        ({"daily_cap": "0"}, "daily_cap", "greater than or equal to 1"),
        ({"phone": "12345"}, "phone", "start the number with +"),
        ({"session": ""}, "session", "needs a session string"),
        ({"name": "parser-1"}, "name", "taken"),
        ({"role": "spammer"}, "role", "choose parser, manager or scripts"),
    ],
)
async def test_a_refused_form_keeps_what_was_typed_but_no_secret_and_writes_nothing(
    panel: Panel, change: dict[str, str], field: str, reason: str
) -> None:
    accounts, audit = await _count(panel.db, Account), await _count(panel.db, AuditEntry)
    typed = FORM | {"daily_cap": "25", "phone": "+7 999 111-22-33"} | change
    answer = await panel.browser.post("/accounts", data=typed)
    assert answer.status_code == 422
    html = answer.text
    invalid = re.findall(r'id="([\w-]+)"[^>]*class="form-\w+ is-invalid"', html)
    assert invalid == [f"session-{field.replace('_', '-')}"]
    error = html.split('class="invalid-feedback" role="alert">')[1].split("</div>")[0]
    assert reason in error
    if typed["name"] != "parser-1":
        assert f'value="{typed["name"]}"' in html  # the name stays as typed
    assert SESSION not in html and "proxy-pass-77" not in html  # secrets are typed again
    assert await _count(panel.db, Account) == accounts
    assert await _count(panel.db, AuditEntry) == audit


async def test_secrets_are_write_only_and_a_blank_field_keeps_the_stored_one(panel: Panel) -> None:
    made = await panel.api.post(
        "/accounts",
        json={"name": "seller-9", "role": "manager", "session": SESSION, "proxy": PROXY},
    )
    assert made.status_code == 201, made.text
    account_id = made.json()["id"]
    assert made.json()["has_proxy"] is True and made.json()["has_session"] is True
    edited = await panel.browser.post(
        f"/accounts/{account_id}",
        data={"name": "seller-9", "role": "manager", "status": "paused", "daily_cap": "15"},
    )
    assert edited.status_code == 303, edited.text
    answers = [
        await panel.api.get("/accounts"),
        await panel.api.get(f"/accounts/{account_id}"),
        await panel.browser.get("/accounts"),
        await panel.browser.get(f"/accounts/{account_id}"),
    ]
    for answer in answers:
        assert answer.status_code == 200
        assert SESSION not in answer.text and "proxy-pass-77" not in answer.text
    page = answers[3].text
    assert 'data-testid="account-proxy">set<' in page and 'data-state="paused"' in page
    stored = await _account(panel.db, "seller-9")
    assert panel.box.decrypt(stored.session_secret) == SESSION
    assert stored.proxy_secret and panel.box.decrypt(stored.proxy_secret) == PROXY
    assert stored.daily_cap == 15 and stored.status == "paused"


async def _set_states(db: Database) -> dict[str, int]:
    """One account per state, by name; returns their ids."""
    now = datetime.now(UTC)
    rows: dict[str, dict[str, object]] = {
        "flooded": {"flood_until": now + timedelta(minutes=30)},
        "peer-flooded": {"peer_flood_until": now + timedelta(hours=5)},
        "banned-one": {"status": "banned", "status_reason": "USER_DEACTIVATED_BAN"},
        "revoked-one": {"status": "revoked"},
        "paused-one": {"status": "paused"},
        "no-proxy": {},
        "recovered": {},  # a proxy failure, then Telegram answered: not a proxy problem now
        "fine": {"flood_until": now - timedelta(minutes=1)},  # a FloodWait that is over
    }
    ids = {}
    async with db.transaction() as session:
        for name, values in rows.items():
            account = Account(name=name, role="manager", session_secret="x", **values)
            session.add(account)
            await session.flush()
            ids[name] = account.id
        for name, kinds in (("no-proxy", ["proxy"]), ("recovered", ["proxy", "flood_wait"])):
            for n, kind in enumerate(kinds):
                at = now - timedelta(minutes=10 - n)
                session.add(AccountEvent(account_id=ids[name], kind=kind, at=at, detail="timeout"))
    return ids


async def test_the_state_tells_a_connection_problem_from_a_ban(panel: Panel) -> None:
    ids = await _set_states(panel.db)
    listing = (await panel.browser.get("/accounts")).text
    expected = {
        "flooded": "waiting out a FloodWait until",
        "peer-flooded": "PeerFlood-limited until",
        "banned-one": ">banned<",
        "revoked-one": "revoked: needs a new login",
        "paused-one": ">paused<",
        "no-proxy": "proxy unreachable",
        "recovered": ">active<",
        "fine": ">active<",
    }
    for name, words in expected.items():
        row = listing.split(f'data-account="{ids[name]}"')[1].split("</tr>")[0]
        assert words in row, (name, row)
    revoked = (await panel.browser.get(f"/accounts/{ids['revoked-one']}")).text
    assert "Log in again by phone" in revoked
    states = {a["name"]: a["state"]["kind"] for a in (await panel.api.get("/accounts")).json()}
    assert states["no-proxy"] == "proxy" and states["recovered"] == "active"
    assert states["banned-one"] == "banned" and states["flooded"] == "flood_wait"
    events = (await panel.browser.get(f"/accounts/{ids['recovered']}")).text
    assert "FloodWait" in events and "proxy unreachable" in events  # the recent events


async def test_deleting_an_account_a_running_campaign_uses_is_refused_naming_them(
    panel: Panel,
) -> None:
    manager = await _account(panel.db, "manager-2")
    refused = await panel.browser.post(f"/accounts/{manager.id}/delete")
    assert refused.status_code == 409
    assert "the running campaigns other, web use" in refused.text
    by_api = await panel.api.delete(f"/accounts/{manager.id}")
    assert by_api.status_code == 409 and "other, web" in by_api.json()["detail"]
    assert await _account(panel.db, "manager-2")  # still there
    async with panel.db.transaction() as session:
        await session.execute(update(Campaign).values(status="paused"))
    deleted = await panel.browser.post(f"/accounts/{manager.id}/delete")
    assert deleted.status_code == 303 and deleted.headers["location"] == "/accounts"
    gone = await panel.browser.get(f"/accounts/{manager.id}")
    assert gone.status_code == 404 and "does not exist" in gone.text


@pytest.mark.parametrize(
    ("method", "address"),
    [
        ("GET", "/accounts/999999"),
        ("POST", "/accounts/999999"),
        ("POST", "/accounts/999999/delete"),
        ("POST", "/accounts/999999/status"),
        ("GET", "/accounts/99999999999"),
    ],
)
async def test_an_unknown_account_is_the_panels_404_page(
    panel: Panel, method: str, address: str
) -> None:
    data = {"name": "x", "role": "parser", "status": "paused"}
    answer = await panel.browser.request(method, address, data=data if method == "POST" else None)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")


async def test_the_api_creates_reads_updates_and_deletes_with_field_errors(panel: Panel) -> None:
    bad = await panel.api.post("/accounts", json={"name": "s", "role": "parser", "proxy": "x"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "proxy"
    assert "x" != bad.json()["detail"][0]["reason"]
    no_session = await panel.api.post("/accounts", json={"name": "s", "role": "parser"})
    assert no_session.status_code == 422
    assert no_session.json()["detail"] == [
        {
            "field": "session",
            "reason": "a new account needs a session string, or log in with its phone number",
        }
    ]
    viewer_write = await panel.viewer.post("/accounts", json={"name": "s", "role": "parser"})
    assert viewer_write.status_code == 403
    made = await panel.api.post(
        "/accounts",
        json={"name": "s", "role": "parser", "session": SESSION, "phone": "+7 999 1234567"},
    )
    assert made.status_code == 201 and made.json()["phone"] == "+79991234567"
    account_id = made.json()["id"]
    changed = await panel.api.put(
        f"/accounts/{account_id}", json={"name": "s2", "role": "scripts", "daily_cap": 12}
    )
    assert changed.status_code == 200, changed.text
    read = (await panel.viewer.get(f"/accounts/{account_id}")).json()
    assert (read["name"], read["role"], read["daily_cap"], read["has_session"]) == (
        "s2",
        "scripts",
        12,
        True,
    )
    role_in_use = await panel.api.put(
        f"/accounts/{(await _account(panel.db, 'parser-1')).id}",
        json={"name": "parser-1", "role": "manager"},
    )
    assert role_in_use.status_code == 422 and role_in_use.json()["detail"][0]["field"] == "role"
    assert (await panel.api.delete(f"/accounts/{account_id}")).status_code == 204
    assert (await panel.api.get(f"/accounts/{account_id}")).status_code == 404
    assert (await panel.api.delete(f"/accounts/{account_id}")).status_code == 404


# ---- logging in by phone through the sandbox ----------------------------------------------------

PHONE = "+79990001122"


async def _sandbox(panel: Panel, method: str, path: str, body: object = None) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=panel.sandbox.url) as http:
        answer = await http.request(method, path, json=body)
    payload: dict[str, object] = answer.json()
    return payload


async def _code(panel: Panel, phone: str = PHONE) -> str:
    found = await _sandbox(panel, "GET", f"/_sandbox/login-codes?phone={phone.replace('+', '%2B')}")
    assert found["ok"], found
    return str(found["code"])


async def test_a_phone_login_with_a_two_step_password_stores_a_session_that_works(
    panel: Panel,
) -> None:
    made = await _sandbox(panel, "POST", "/_sandbox/accounts", {"first_name": "Olga"})
    user_id = made["user_id"]
    await _sandbox(
        panel, "PUT", f"/_sandbox/accounts/{user_id}/phone", {"phone": PHONE, "password": "hunter2"}
    )
    start = {"name": "olga", "role": "manager", "phone": "+7 999 000-11-22", "daily_cap": 10}
    started = await panel.api.post("/accounts/login/start", json=start)
    assert started.status_code == 200 and started.json()["stage"] == "code", started.text
    wrong = await panel.api.post("/accounts/login/code", json={"code": "00000x"})
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["field"] == "code"
    step = await panel.api.post("/accounts/login/code", json={"code": await _code(panel)})
    assert step.json()["stage"] == "password" and step.json()["hint"], step.text
    bad = await panel.api.post("/accounts/login/password", json={"password": "hunter3"})
    assert bad.status_code == 422 and bad.json()["detail"][0] == {
        "field": "password",
        "reason": "the two-step verification password is wrong",
    }
    done = await panel.api.post("/accounts/login/password", json={"password": "hunter2"})
    assert done.status_code == 200 and done.json()["stage"] == "done", done.text
    account = done.json()["account"]
    assert (account["name"], account["phone"], account["telegram_user_id"]) == (
        "olga",
        PHONE,
        user_id,
    )
    assert "hunter2" not in done.text
    stored = await _account(panel.db, "olga")
    session = panel.box.decrypt(stored.session_secret)
    async with httpx.AsyncClient(base_url=panel.sandbox.url) as http:
        me = await http.get("/user/me", headers={"Authorization": f"Session {session}"})
    assert me.json()["profile"]["user_id"] == user_id  # the stored session authenticates
    after = await panel.api.post("/accounts/login/code", json={"code": "12345"})
    assert after.status_code == 409  # the login is over


async def test_the_panel_logs_a_new_number_in_and_says_why_a_number_is_refused(
    panel: Panel,
) -> None:
    form = {"name": "fresh", "role": "parser", "phone": "+7 999", "proxy": PROXY}
    refused = await panel.browser.post("/accounts/login", data=form)
    assert refused.status_code == 422 and "is not a phone number" in refused.text
    assert 'value="fresh"' in refused.text and "proxy-pass-77" not in refused.text
    sent = await panel.browser.post("/accounts/login", data=form | {"phone": "+44 7700 900123"})
    assert sent.status_code == 200 and "Telegram sent a code to +447700900123" in sent.text
    assert "/_sandbox/login-codes" in sent.text  # where the sandbox shows the code
    wrong = await panel.browser.post("/accounts/login/code", data={"code": "abc"})
    assert wrong.status_code == 422 and "not the one Telegram sent" in wrong.text
    code = await _code(panel, "+447700900123")
    done = await panel.browser.post("/accounts/login/code", data={"code": code})
    assert done.status_code == 303, done.text
    page = await panel.browser.get(done.headers["location"])
    assert (
        "fresh" in page.text and "+447700900123" in page.text and "proxy-pass-77" not in page.text
    )
    stored = await _account(panel.db, "fresh")
    assert stored.proxy_secret and panel.box.decrypt(stored.proxy_secret) == PROXY


async def test_a_revoked_account_logs_in_again_by_phone_and_is_active(panel: Panel) -> None:
    made = await _sandbox(panel, "POST", "/_sandbox/accounts", {"first_name": "Ivan"})
    await _sandbox(panel, "PUT", f"/_sandbox/accounts/{made['user_id']}/phone", {"phone": PHONE})
    manager = await _account(panel.db, "manager-1")
    async with panel.db.transaction() as session:
        await session.execute(
            update(Account).where(Account.id == manager.id).values(status="revoked")
        )
    form = {"account_id": str(manager.id), "name": "manager-1", "role": "manager", "phone": PHONE}
    sent = await panel.browser.post("/accounts/login", data=form)
    assert sent.status_code == 200, sent.text
    done = await panel.browser.post("/accounts/login/code", data={"code": await _code(panel)})
    assert done.headers["location"] == f"/accounts/{manager.id}"
    renewed = await _account(panel.db, "manager-1")
    assert renewed.status == "active" and renewed.telegram_user_id == made["user_id"]


async def test_too_many_codes_for_one_number_meet_a_flood_wait(panel: Panel) -> None:
    start = {"name": "busy", "role": "parser", "phone": PHONE}
    answers = [await panel.api.post("/accounts/login/start", json=start) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert "Telegram asks to wait" in answers[-1].json()["detail"]
    assert int(answers[-1].headers["retry-after"]) > 0
