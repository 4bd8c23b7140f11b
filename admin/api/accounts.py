"""Accounts over the API: the same service functions and rules as the panel and the workspace file
(``admin.setup.accounts``), and the phone login step by step (``admin.setup.account_login``).
Sessions and proxies are write-only: a response says whether one is stored, never what it is."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from admin.access.deps import Admin, Viewer
from admin.api.deps import DbDep, SessionDep
from admin.api.fields import DB_INT_MAX, Name, OneLine
from admin.reads.accounts import AccountRow, AccountView, account_page, account_view
from admin.reads.paging import PAGE_SIZE
from admin.setup.account_login import (
    LoginDesk,
    NoLogin,
    PendingLogin,
    complete_login,
    flow_factory,
)
from admin.setup.accounts import (
    AccountForm,
    Login,
    delete_account,
    parse_account,
    save_account,
)
from admin.setup.keyword_sets import SetupError
from admin.workspace.spec import AccountSpec
from core.access import Actor
from core.db import Database
from core.db.models import Account
from core.security import SecretBox
from core.telegram_login import LoggedIn, LoginError, LoginFloodWait, LoginUnavailable

router = APIRouter(prefix="/accounts", tags=["configuration"])
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
Role = Literal["parser", "manager", "scripts"]
REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such account"},
    409: {"description": "the name is taken, or a running campaign uses the account"},
}
LOGIN_REFUSALS: dict[int | str, dict[str, Any]] = {
    409: {"description": "no login in progress for you (none started, finished or expired)"},
    422: {"description": "Telegram refused the phone, the code or the password (by field)"},
    429: {"description": "Telegram asks to wait before the next login attempt"},
    503: {"description": "Telegram did not answer; nothing changed"},
}


class AccountWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(max_length=64)
    role: Role
    status: Literal["active", "paused"] = "active"
    session: SecretStr | None = Field(
        None, max_length=4096, description="write-only; absent on an update keeps the stored one"
    )
    proxy: SecretStr | None = Field(
        None,
        max_length=2048,
        description="socks5://, socks4://, http://, mtproxy:// or tg:// URL; write-only, absent "
        "keeps the stored one",
    )
    phone: OneLine | None = Field(None, max_length=32, description="+country code and number")
    daily_cap: int | None = Field(None, ge=1, le=10_000, description="absent: the campaign's")


class LoginStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(max_length=64)
    role: Role
    phone: OneLine = Field(max_length=32, description="+country code and number")
    status: Literal["active", "paused"] = "active"
    proxy: SecretStr | None = Field(None, max_length=2048, description="log in through it")
    daily_cap: int | None = Field(None, ge=1, le=10_000)
    account_id: int | None = Field(
        None, ge=1, le=DB_INT_MAX, description="an existing account logging in again"
    )


class LoginCode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=16)


class LoginPassword(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: SecretStr = Field(min_length=1, max_length=256)


class StateRead(BaseModel):
    kind: str = Field(
        description="active, paused, flood_wait, peer_flood, banned, revoked or proxy (unreachable)"
    )
    until: datetime | None
    reason: str | None


class AccountRead(BaseModel):
    id: int
    name: str
    role: str
    status: str = Field(description="as configured or observed: active, paused, banned, revoked")
    status_reason: str | None
    state: StateRead = Field(description="what the account can do now, and until when")
    telegram_user_id: int | None
    phone: str | None
    daily_cap: int | None
    has_session: bool
    has_proxy: bool
    chats: int
    campaigns: list[str]


class LoginStep(BaseModel):
    stage: Literal["code", "password", "done"]
    expires_at: datetime | None = None
    hint: str | None = Field(None, description="the account's own 2FA password hint")
    account: AccountRead | None = None


def _read(row: AccountRow | AccountView) -> AccountRead:
    a, state = row.account, row.state
    campaigns = [u.name for u in row.campaigns] if isinstance(row, AccountView) else row.campaigns
    return AccountRead(
        id=a.id,
        name=a.name,
        role=a.role,
        status=a.status,
        status_reason=a.status_reason,
        state=StateRead(kind=state.kind, until=state.until, reason=state.reason),
        telegram_user_id=a.telegram_user_id,
        phone=a.phone,
        daily_cap=a.daily_cap,
        has_session=bool(a.session_secret),
        has_proxy=a.proxy_secret is not None,
        chats=row.chats,
        campaigns=campaigns,
    )


def _refusal(refused: SetupError) -> HTTPException:
    if refused.missing:
        return HTTPException(404, str(refused))
    if refused.field is not None and "taken" not in str(refused):
        return HTTPException(422, [{"field": refused.field, "reason": str(refused)}])
    return HTTPException(409, str(refused))


def _login_refusal(refused: LoginError) -> HTTPException:
    if isinstance(refused, LoginFloodWait):
        return HTTPException(429, str(refused), headers={"Retry-After": str(refused.seconds)})
    if isinstance(refused, LoginUnavailable):
        return HTTPException(503, str(refused))
    if refused.field is None or isinstance(refused, NoLogin):
        return HTTPException(409, str(refused))
    return HTTPException(422, [{"field": refused.field, "reason": str(refused)}])


@router.get("", response_model=list[AccountRead])
async def list_accounts(
    _: Viewer,
    session: SessionDep,
    # No control characters: PostgreSQL refuses a NUL in a query (a 500 otherwise).
    search: Annotated[OneLine, Query(max_length=200, description="part of a name or phone")] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE * 10,
    offset: Annotated[int, Query(ge=0, le=DB_INT_MAX)] = 0,
) -> list[AccountRead]:
    page = await account_page(session, search, offset, limit=limit)
    return [_read(row) for row in page.rows]


@router.get("/{account_id}", response_model=AccountRead, responses={404: REFUSALS[404]})
async def get_account(_: Viewer, account_id: Id, session: SessionDep) -> AccountRead:
    view = await account_view(session, account_id)
    if view is None:
        raise HTTPException(404, f"account {account_id} does not exist")
    return _read(view)


@router.post("", response_model=AccountRead, status_code=201, responses=REFUSALS)
async def create_account(
    actor: Admin, body: AccountWrite, db: DbDep, request: Request
) -> AccountRead:
    """A new account needs a session string (or use the phone login below)."""
    return await _save(actor, body, db, _box(request), None)


@router.put("/{account_id}", response_model=AccountRead, responses=REFUSALS)
async def update_account(
    actor: Admin, account_id: Id, body: AccountWrite, db: DbDep, request: Request
) -> AccountRead:
    return await _save(actor, body, db, _box(request), account_id)


@router.delete("/{account_id}", status_code=204, responses=REFUSALS)
async def remove_account(actor: Admin, account_id: Id, db: DbDep) -> None:
    """Refused (409, naming them) while a running campaign uses the account."""
    try:
        async with db.transaction() as session:
            await delete_account(session, actor, account_id)
    except SetupError as refused:
        raise _refusal(refused) from None


def _form(body: AccountWrite | LoginStart) -> AccountForm:
    return AccountForm(
        name=body.name,
        role=body.role,
        status=body.status,
        session=_secret(body.session) if isinstance(body, AccountWrite) else "",
        proxy=_secret(body.proxy),
        phone=body.phone or "",
        daily_cap=str(body.daily_cap) if body.daily_cap is not None else "",
    )


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


async def _save(
    actor: Actor,
    body: AccountWrite,
    db: Database,
    box: SecretBox,
    account_id: int | None,
    login: Login | None = None,
) -> AccountRead:
    try:
        spec = parse_account(_form(body))
        return await save_and_read(db, actor, spec, box, account_id, login)
    except SetupError as refused:
        raise _refusal(refused) from None


async def save_and_read(
    db: Database,
    actor: Actor,
    spec: AccountSpec,
    box: SecretBox,
    account_id: int | None,
    login: Login | None,
) -> AccountRead:
    async with db.transaction() as session:
        saved = await save_account(session, actor, spec, box, account_id=account_id, login=login)
        view = await account_view(session, saved.id)
        assert view is not None  # noqa: S101 - saved in this transaction
        return _read(view)


# ---- the phone login ---------------------------------------------------------------------------


def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.box
    return box


def login_desk(request: Request) -> LoginDesk:
    """The process's logins in progress (made on first use: the app is one process)."""
    desk: LoginDesk | None = getattr(request.app.state, "account_logins", None)
    if desk is None:
        desk = request.app.state.account_logins = LoginDesk(
            flow_factory(request.app.state.settings)
        )
    return desk


@router.post(
    "/login/start",
    response_model=LoginStep,
    responses={404: {"description": "no such account to log in again"}, **LOGIN_REFUSALS},
)
async def login_start(actor: Admin, body: LoginStart, request: Request, db: DbDep) -> LoginStep:
    """Telegram sends a code to the phone; a new start replaces your previous login."""
    proxy = body.proxy.get_secret_value() if body.proxy else None
    if body.account_id is not None:
        found, stored = await stored_proxy(db, _box(request), body.account_id)
        if not found:
            raise HTTPException(404, f"account {body.account_id} does not exist")
        proxy = proxy or stored
    try:
        pending = await login_desk(request).start(
            actor.login, _form(body), account_id=body.account_id, proxy=proxy
        )
    except SetupError as refused:
        raise _refusal(refused) from None
    except LoginError as refused:
        raise _login_refusal(refused) from None
    return LoginStep(stage="code", expires_at=pending.expires_at)


@router.post("/login/code", response_model=LoginStep, responses=LOGIN_REFUSALS)
async def login_code(actor: Admin, body: LoginCode, request: Request, db: DbDep) -> LoginStep:
    """The code; the answer asks for the two-step password, or is the saved account."""
    desk = login_desk(request)
    try:
        pending, logged_in = await desk.code(actor.login, body.code)
        if logged_in is None:
            return LoginStep(stage="password", expires_at=pending.expires_at, hint=pending.hint)
        return await _finish(actor, pending, logged_in, request, db)
    except LoginError as refused:
        raise _login_refusal(refused) from None


@router.post("/login/password", response_model=LoginStep, responses=LOGIN_REFUSALS)
async def login_password(
    actor: Admin, body: LoginPassword, request: Request, db: DbDep
) -> LoginStep:
    desk = login_desk(request)
    try:
        pending, logged_in = await desk.password(actor.login, body.password.get_secret_value())
        return await _finish(actor, pending, logged_in, request, db)
    except LoginError as refused:
        raise _login_refusal(refused) from None


@router.post("/login/cancel", status_code=204)
async def login_cancel(actor: Admin, request: Request) -> None:
    """Forget your login in progress (it also ends by itself after 10 minutes)."""
    await login_desk(request).cancel(actor.login)


async def _finish(
    actor: Actor, pending: PendingLogin, logged_in: LoggedIn, request: Request, db: Database
) -> LoginStep:
    desk, box = login_desk(request), _box(request)
    try:
        account_id = await complete_login(db, box, actor, desk, pending, logged_in)
    except SetupError as refused:
        raise _refusal(refused) from None
    async with db.session() as session:
        view = await account_view(session, account_id)
    assert view is not None  # noqa: S101 - saved just now
    return LoginStep(stage="done", account=_read(view))


async def stored_proxy(db: Database, box: SecretBox, account_id: int) -> tuple[bool, str | None]:
    """Whether the account exists, and its proxy: logging in again goes through it."""
    async with db.session() as session:
        account = await session.get(Account, account_id)
    if account is None:
        return False, None
    return True, box.decrypt(account.proxy_secret) if account.proxy_secret else None
