"""Who may do what, through the real app on both databases: credentials, roles, CSRF, sign-in
throttling, revoked tokens, disabled users, the host check, metrics, and the audit log's actor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from admin.workspace.apply import apply_workspace, read_workspace
from core.access import Role
from core.db import Database
from core.db.models import AuditEntry, UserSession
from core.security import InsecureSettings, SecretBox, check_cookie_settings
from core.settings import Settings
from tests.conftest import PASSWORD, add_people, admin_app, bearer
from tests.integration.conftest import World, workspace

BASE = "http://127.0.0.1"


@pytest.fixture
async def world(database: Database, secret_box: SecretBox, tmp_path: Path) -> AsyncIterator[World]:
    path = tmp_path / "ws.yaml"
    path.write_text(workspace(", approval: true"), encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    world = World(database)
    await world.serve_operator_commands()
    yield world
    await world.bus.close()


@pytest.fixture
async def tokens(world: World) -> dict[Role, str]:
    return await add_people(world.db)


@pytest.fixture
def app(world: World) -> FastAPI:
    built = admin_app(
        world.db, world.bus, metrics_token="scrape-me", login_max_failures_per_client=8
    )
    built.exception_handlers.pop(Exception)  # a 500 fails the test loudly
    return built


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client


async def _sign_in(http: httpx.AsyncClient, login: str, password: str = PASSWORD) -> str:
    response = await http.post("/api/v1/auth/login", json={"login": login, "password": password})
    assert response.status_code == 200, response.text
    csrf: str = response.json()["csrf_token"]
    return csrf


async def test_no_credential_gets_401_saying_how_to_sign_in(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/leads")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "sign in" in response.json()["detail"]
    wrong = await http.get("/api/v1/leads", headers=bearer("ct_not-a-token"))
    assert wrong.status_code == 401 and "not valid" in wrong.json()["detail"]


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        (Role.viewer, "GET", "/api/v1/leads", True),
        (Role.viewer, "GET", "/api/v1/conversations", True),
        (Role.viewer, "POST", "/api/v1/drafts/1/approve", False),
        (Role.viewer, "POST", "/api/v1/do-not-contact", False),
        (Role.operator, "POST", "/api/v1/drafts/1/approve", True),
        (Role.operator, "GET", "/api/v1/dead-letters", False),
        (Role.operator, "GET", "/api/v1/users", False),
        (Role.admin, "GET", "/api/v1/dead-letters", True),
        (Role.admin, "GET", "/api/v1/users", False),
        (Role.admin, "PATCH", "/api/v1/users/viewer", False),
        (Role.owner, "GET", "/api/v1/users", True),
    ],
)
async def test_each_role_reaches_what_it_may_and_gets_403_elsewhere(
    http: httpx.AsyncClient,
    tokens: dict[Role, str],
    role: Role,
    method: str,
    path: str,
    allowed: bool,
) -> None:
    body = {"telegram_user_id": 5} if path.endswith("do-not-contact") else {}
    response = await http.request(method, path, json=body, headers=bearer(tokens[role]))
    if allowed:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403, response.text
        assert f"{role}" in response.json()["detail"]


async def test_a_cookie_change_needs_the_csrf_token_and_a_stale_one_is_named(
    http: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    csrf = await _sign_in(http, "operator")
    assert (await http.get("/api/v1/auth/me")).json()["channel"] == "panel"

    missing = await http.post("/api/v1/auth/tokens", json={"name": "laptop"})
    assert missing.status_code == 403 and "X-CSRFToken" in missing.json()["detail"]
    made = await http.post(
        "/api/v1/auth/tokens", json={"name": "laptop"}, headers={"X-CSRFToken": csrf}
    )
    assert made.status_code == 201, made.text

    await _sign_in(http, "operator")  # a new sign-in rotates the token
    stale = await http.post(
        "/api/v1/auth/tokens", json={"name": "again"}, headers={"X-CSRFToken": csrf}
    )
    assert stale.status_code == 403 and "stale" in stale.json()["detail"]


async def test_a_bearer_request_needs_no_csrf_token(
    http: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    response = await http.post(
        "/api/v1/auth/tokens", json={"name": "ci"}, headers=bearer(tokens[Role.viewer])
    )
    assert response.status_code == 201, response.text
    assert response.json()["token"].startswith("ct_")


async def test_repeated_failures_lock_the_login_and_say_when_to_retry(
    world: World, http: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    unknown = await http.post("/api/v1/auth/login", json={"login": "nobody", "password": "x"})
    for _ in range(5):
        wrong = await http.post(
            "/api/v1/auth/login", json={"login": "operator", "password": "wrong password"}
        )
        assert wrong.status_code == 401
    assert wrong.json() == unknown.json(), "no hint whether a login exists"
    locked = await http.post("/api/v1/auth/login", json={"login": "operator", "password": PASSWORD})
    assert locked.status_code == 429
    assert "try again in 15 minutes" in locked.json()["detail"]
    assert 0 < int(locked.headers["retry-after"]) <= 900
    actions = await _audit(world, "operator")
    assert actions.count("login_failed") == 5 and actions[-1] == "login_locked"
    other = await http.post("/api/v1/auth/login", json={"login": "viewer", "password": PASSWORD})
    assert other.status_code == 200, "another login from the same address is still open"


async def test_a_revoked_token_is_refused_at_once(
    http: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    owner = bearer(tokens[Role.owner])
    made = (await http.post("/api/v1/auth/tokens", json={"name": "temp"}, headers=owner)).json()
    assert (await http.get("/api/v1/leads", headers=bearer(made["token"]))).status_code == 200
    used = (await http.get("/api/v1/auth/tokens", headers=owner)).json()
    assert [t["last_used_at"] is not None for t in used if t["id"] == made["id"]] == [True]
    revoked = await http.delete(f"/api/v1/auth/tokens/{made['id']}", headers=owner)
    assert revoked.status_code == 204
    assert (await http.get("/api/v1/leads", headers=bearer(made["token"]))).status_code == 401
    listed = (await http.get("/api/v1/auth/tokens", headers=owner)).json()
    assert [t["revoked_at"] is not None for t in listed if t["id"] == made["id"]] == [True]
    assert made["token"] not in str(listed)


async def test_a_disabled_user_loses_sessions_and_tokens_at_once(
    app: FastAPI, http: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as browser:
        await _sign_in(browser, "operator")
        assert (await browser.get("/api/v1/leads")).status_code == 200
        disabled = await http.patch(
            "/api/v1/users/operator", json={"disabled": True}, headers=bearer(tokens[Role.owner])
        )
        assert disabled.status_code == 200 and disabled.json()["disabled_at"]
        assert (await browser.get("/api/v1/leads")).status_code == 401
    response = await http.get("/api/v1/leads", headers=bearer(tokens[Role.operator]))
    assert response.status_code == 401


async def test_sign_out_and_idle_time_end_the_session_on_the_server(
    world: World, http: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    csrf = await _sign_in(http, "viewer")
    cookie = http.cookies["coolthing_session"]
    assert (
        await http.post("/api/v1/auth/logout", headers={"X-CSRFToken": csrf})
    ).status_code == 204
    http.cookies.set("coolthing_session", cookie)  # a copy kept from before the sign-out
    replayed = await http.get("/api/v1/leads")
    assert replayed.status_code == 401

    http.cookies.clear()
    await _sign_in(http, "viewer")
    async with world.db.transaction() as session:
        await session.execute(
            update(UserSession).values(last_seen_at=datetime.now(UTC) - timedelta(hours=3))
        )
    idle = await http.get("/api/v1/leads")
    assert idle.status_code == 401 and "idle" in idle.json()["detail"]
    async with world.db.session() as session:
        left = await session.scalar(select(func.count()).select_from(UserSession))
    assert left == 0, "an ended session is deleted, not only refused"

    http.cookies.clear()
    await _sign_in(http, "viewer")
    async with world.db.transaction() as session:
        await session.execute(
            update(UserSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = await http.get("/api/v1/leads")
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


async def test_one_address_trying_many_logins_is_locked_too(
    http: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    for n in range(8):  # the app allows 8 per address here, 5 per login
        body = {"login": f"guess{n}", "password": "hunter2"}
        assert (await http.post("/api/v1/auth/login", json=body)).status_code == 401
    body = {"login": "viewer", "password": PASSWORD}
    locked = await http.post("/api/v1/auth/login", json=body)
    assert locked.status_code == 429 and "try again in" in locked.json()["detail"]


async def test_the_audit_log_names_the_signed_in_operator_not_the_body(
    world: World, http: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    await world.conversations.on_lead(await world.lead(user=701))
    [conversation] = await world.conversations_of(701)
    response = await http.post(
        f"/api/v1/conversations/{conversation.id}/takeover",
        json={"by": "mallory"},
        headers=bearer(tokens[Role.operator]),
    )
    assert response.status_code == 204, response.text
    async with world.db.session() as session:
        row = await session.scalar(select(AuditEntry).where(AuditEntry.action == "handoff"))
    assert row is not None
    assert (row.actor, row.channel) == ("operator", "api") and row.user_id is not None
    assert "mallory" not in str(row.detail)


async def test_only_configured_hosts_are_served(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz", headers={"Host": "rebound.attacker.example"})
    assert response.status_code == 400
    assert (await http.get("/healthz")).status_code == 200


async def test_metrics_are_for_loopback_or_the_metrics_token(app: FastAPI) -> None:
    assert (await _get(app, "/metrics", ("127.0.0.1", 5000))).status_code == 200
    outside = ("203.0.113.7", 5000)
    assert (await _get(app, "/metrics", outside)).status_code == 401
    scraped = await _get(app, "/metrics", outside, bearer("scrape-me"))
    assert scraped.status_code == 200 and "python_gc" in scraped.text


def test_production_refuses_cookies_that_are_not_secure() -> None:
    with pytest.raises(InsecureSettings, match="COOKIE_SECURE"):
        check_cookie_settings(Settings(env="production"))
    check_cookie_settings(Settings(env="production", cookie_secure=True))
    check_cookie_settings(Settings(env="production", allow_insecure_cookies=True))


async def _get(
    app: FastAPI, path: str, client: tuple[str, int], headers: dict[str, str] | None = None
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        return await http.get(path, headers=headers)


async def _audit(world: World, actor: str) -> list[str]:
    async with world.db.session() as session:
        rows = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.actor == actor).order_by(AuditEntry.id)
        )
        return list(rows)


async def test_the_owner_adds_people_and_bad_input_names_the_field(
    http: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    owner = bearer(tokens[Role.owner])
    body = {"login": "carol", "password": "short", "role": "operator"}
    weak = await http.post("/api/v1/users", json=body, headers=owner)
    assert weak.status_code == 422
    assert weak.json()["detail"][0]["field"] == "password"
    body["password"] = "carol"
    assert (await http.post("/api/v1/users", json=body, headers=owner)).status_code == 422
    body["password"] = "a proper passphrase"
    made = await http.post("/api/v1/users", json=body, headers=owner)
    assert made.status_code == 201 and made.json()["role"] == "operator"
    taken = await http.post("/api/v1/users", json=body, headers=owner)
    assert taken.status_code == 409 and "taken" in taken.json()["detail"]
    await _sign_in(http, "carol", "a proper passphrase")
    last_owner = await http.patch("/api/v1/users/owner", json={"role": "admin"}, headers=owner)
    assert last_owner.status_code == 409 and "last active owner" in last_owner.json()["detail"]
