"""Accounts: the list (search, pages, each account's state in words), an account's page (its
state, recent events, campaigns, warm-up day, today's cap and sends; edit, pause, resume,
delete), and adding one with a session string. Adding or renewing one by phone is
``admin.pages.account_login``.

Session strings and proxies are never rendered: a refused form keeps everything else that was
typed and asks for the secret again; the page says only whether one is stored."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response

from admin.access.deps import Admin, Viewer
from admin.api.fields import DB_INT_MAX
from admin.pages.errors import page_error
from admin.pages.names import N_
from admin.pages.rendering import go, render
from admin.pages.viewers import viewer_for
from admin.reads.accounts import account_page, account_view
from admin.reads.paging import PAGE_SIZE
from admin.setup.accounts import (
    AccountForm,
    clear_proxy,
    delete_account,
    parse_account,
    running_campaigns,
    save_account,
    set_status,
)
from admin.setup.keyword_sets import SetupError
from core.access import Actor
from core.db import Database
from core.security import SecretBox

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
Short = Annotated[str, Form(max_length=200)]
Secret = Annotated[str, Form(max_length=4096)]
ROLES = ("parser", "manager", "scripts")

# The state in words (colour is never the only sign); the template fills in "until".
STATES = {
    "active": (N_("active"), "green"),
    "paused": (N_("paused"), "secondary"),
    "flood_wait": (N_("waiting out a FloodWait until %(when)s"), "orange"),
    "peer_flood": (N_("PeerFlood-limited until %(when)s"), "orange"),
    "banned": (N_("banned"), "red"),
    "revoked": (N_("revoked: needs a new login"), "red"),
    "proxy": (N_("proxy unreachable"), "yellow"),
}
EVENTS = {
    "flood_wait": N_("FloodWait"),
    "peer_flood": N_("PeerFlood"),
    "banned": N_("banned"),
    "revoked": N_("session revoked"),
    "proxy": N_("proxy unreachable"),
}
ROLE_WORDS = (N_("parser"), N_("manager"), N_("scripts"), N_("paused"))


def form_values(form: AccountForm) -> dict[str, str]:
    """What a refused form shows again: everything but the secrets."""
    return {
        "name": form.name,
        "role": form.role,
        "status": form.status,
        "phone": form.phone,
        "daily_cap": form.daily_cap,
    }


def page_context(**values: Any) -> dict[str, Any]:
    return {"states": STATES, "events": EVENTS, "roles": ROLES, **values}


@router.get("/accounts")
async def listing(
    actor: Viewer,
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        page = await account_page(session, q, offset)
    context = page_context(page=page, page_size=PAGE_SIZE)
    return render(request, viewer, "accounts/page.html", context)


@router.get("/accounts/new")
async def new(actor: Admin, request: Request) -> Response:
    return await new_page(request, actor)


async def new_page(
    request: Request,
    actor: Actor,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    mode: str = "session",
    status: int = 200,
) -> Response:
    """The add form: a session string, or a phone login (``mode`` picks the tab shown)."""
    viewer = await viewer_for(request, actor)
    values = {"name": "", "role": "parser", "status": "active", "phone": "", "daily_cap": ""}
    context = page_context(typed=values | (typed or {}), errors=errors or {}, mode=mode)
    return render(request, viewer, "accounts/new.html", context, status=status)


def account_form(
    name: Short = "",
    role: Short = "",
    status: Short = "active",
    session: Secret = "",
    proxy: Secret = "",
    phone: Short = "",
    daily_cap: Short = "",
) -> AccountForm:
    """The account form as typed; adding and editing read the same fields."""
    return AccountForm(name, role, status, session, proxy, phone, daily_cap)


Typed = Annotated[AccountForm, Depends(account_form)]


@router.post("/accounts")
async def create(
    actor: Admin,
    request: Request,
    form: Typed,
) -> Response:
    db: Database = request.app.state.db
    try:
        spec = parse_account(form)
        async with db.transaction() as tx:
            saved = await save_account(tx, actor, spec, _box(request), account_id=None)
            saved_id = saved.id
    except SetupError as refused:
        errors = {refused.field or "name": str(refused)}
        return await new_page(request, actor, typed=form_values(form), errors=errors, status=422)
    return go(request, f"/accounts/{saved_id}")


@router.get("/accounts/{account_id}")
async def one(actor: Viewer, request: Request, account_id: Id) -> Response:
    return await account_page_response(request, actor, account_id)


async def account_page_response(
    request: Request,
    actor: Actor,
    account_id: int,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    db: Database = request.app.state.db
    async with db.session() as session:
        view = await account_view(session, account_id)
        running = await running_campaigns(session, account_id) if view else []
    if view is None:
        return page_error(request, 404, f"account {account_id} does not exist")
    viewer = await viewer_for(request, actor)
    a = view.account
    saved = {
        "name": a.name,
        "role": a.role,
        "status": a.status if a.status in ("active", "paused") else "active",
        "phone": a.phone or "",
        "daily_cap": str(a.daily_cap) if a.daily_cap is not None else "",
    }
    context = page_context(
        view=view,
        running=running,
        typed=typed or saved,
        errors=errors or {},
        sandbox=request.app.state.settings.telegram_backend == "sandbox",
    )
    return render(request, viewer, "accounts/account.html", context, status=status)


@router.post("/accounts/{account_id}")
async def update(
    actor: Admin,
    request: Request,
    account_id: Id,
    form: Typed,
) -> Response:
    db: Database = request.app.state.db
    try:
        spec = parse_account(form)
        async with db.transaction() as tx:
            await save_account(tx, actor, spec, _box(request), account_id=account_id)
    except SetupError as refused:
        if refused.missing:
            return page_error(request, 404, str(refused))
        errors = {refused.field or "name": str(refused)}
        return await account_page_response(
            request, actor, account_id, typed=form_values(form), errors=errors, status=422
        )
    return go(request, f"/accounts/{account_id}")


@router.post("/accounts/{account_id}/status")
async def pause_or_resume(
    actor: Admin, request: Request, account_id: Id, status: Short = ""
) -> Response:
    return await _change(request, actor, account_id, "status", set_status, status)


@router.post("/accounts/{account_id}/proxy/delete")
async def remove_proxy(actor: Admin, request: Request, account_id: Id) -> Response:
    return await _change(request, actor, account_id, "proxy", clear_proxy)


@router.post("/accounts/{account_id}/delete")
async def remove(actor: Admin, request: Request, account_id: Id) -> Response:
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            await delete_account(session, actor, account_id)
    except SetupError as refused:
        if refused.missing:
            return page_error(request, 404, str(refused))
        errors = {"delete": str(refused)}
        return await account_page_response(request, actor, account_id, errors=errors, status=409)
    return go(request, "/accounts")


async def _change(
    request: Request, actor: Actor, account_id: int, field: str, change: Any, *args: Any
) -> Response:
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            await change(session, actor, account_id, *args)
    except SetupError as refused:
        if refused.missing:
            return page_error(request, 404, str(refused))
        errors = {field: str(refused)}
        return await account_page_response(request, actor, account_id, errors=errors, status=409)
    return go(request, f"/accounts/{account_id}")


def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.box
    return box
