"""Adding an account by phone, or logging a revoked one in again: the number (with the account's
name, role and proxy), the code Telegram sends, the two-step verification password when the
account has one. Each step answers with the next step's form, or with the same form and the
reason next to the field; the login in progress is ``admin.setup.account_login``'s.

Its routes are included before ``admin.pages.accounts``: ``/accounts/login`` would otherwise be
read as an account id there."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from admin.access.deps import Admin
from admin.api.accounts import login_desk, stored_proxy
from admin.pages.accounts import account_page_response, form_values, new_page, page_context
from admin.pages.errors import page_error
from admin.pages.rendering import go, render
from admin.pages.viewers import viewer_for
from admin.setup.account_login import NoLogin, PendingLogin, complete_login
from admin.setup.accounts import AccountForm
from admin.setup.keyword_sets import SetupError
from core.access import Actor
from core.db import Database
from core.security import SecretBox
from core.telegram_login import LoggedIn, LoginError, LoginUnavailable

router = APIRouter(include_in_schema=False)
Short = Annotated[str, Form(max_length=200)]
Secret = Annotated[str, Form(max_length=4096)]


@router.post("/accounts/login")
async def start(
    actor: Admin,
    request: Request,
    name: Short = "",
    role: Short = "",
    status: Short = "active",
    proxy: Secret = "",
    phone: Short = "",
    daily_cap: Short = "",
    account_id: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
) -> Response:
    """Telegram sends a code; the next form asks for it."""
    form = AccountForm(name, role, status, "", proxy, phone, daily_cap)
    db: Database = request.app.state.db
    through = proxy.strip() or None
    if account_id is not None:
        found, stored = await stored_proxy(db, _box(request), account_id)
        if not found:
            return page_error(request, 404, f"account {account_id} does not exist")
        through = through or stored
    try:
        pending = await login_desk(request).start(
            actor.login, form, account_id=account_id, proxy=through
        )
    except (SetupError, LoginError) as refused:
        errors = {refused.field or "phone": str(refused)}
        status_code = 503 if isinstance(refused, LoginUnavailable) else 422
        if account_id is not None:
            return await account_page_response(
                request, actor, account_id, errors=errors, status=status_code
            )
        typed = form_values(form)
        return await new_page(
            request, actor, typed=typed, errors=errors, mode="phone", status=status_code
        )
    return await _step(request, actor, pending)


@router.post("/accounts/login/code")
async def code(actor: Admin, request: Request, code: Short = "") -> Response:
    desk = login_desk(request)
    try:
        pending, logged_in = await desk.code(actor.login, code)
    except LoginError as refused:
        return await _refused(request, actor, refused)
    if logged_in is None:
        return await _step(request, actor, pending)
    return await _finish(request, actor, pending, logged_in)


@router.post("/accounts/login/password")
async def password(actor: Admin, request: Request, password: Secret = "") -> Response:
    desk = login_desk(request)
    try:
        pending, logged_in = await desk.password(actor.login, password)
    except LoginError as refused:
        return await _refused(request, actor, refused)
    return await _finish(request, actor, pending, logged_in)


@router.post("/accounts/login/cancel")
async def cancel(actor: Admin, request: Request) -> Response:
    pending = login_desk(request).pending(actor.login)
    await login_desk(request).cancel(actor.login)
    if pending is not None and pending.account_id is not None:
        return go(request, f"/accounts/{pending.account_id}")
    return go(request, "/accounts")


async def _step(
    request: Request,
    actor: Actor,
    pending: PendingLogin,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    viewer = await viewer_for(request, actor)
    settings = request.app.state.settings
    sandbox_codes = None
    if settings.telegram_backend == "sandbox":  # the sandbox has no app to show the code in
        sandbox_codes = f"{settings.sandbox_url.rstrip('/')}/_sandbox/login-codes"
    context = page_context(pending=pending, errors=errors or {}, sandbox_codes=sandbox_codes)
    return render(request, viewer, "accounts/login.html", context, status=status)


async def _refused(request: Request, actor: Actor, refused: LoginError) -> Response:
    pending = login_desk(request).pending(actor.login)
    if pending is None or isinstance(refused, NoLogin):
        errors = {"phone": str(refused)}
        return await new_page(request, actor, errors=errors, mode="phone", status=409)
    status = 503 if isinstance(refused, LoginUnavailable) else 422
    return await _step(
        request, actor, pending, {refused.field or pending.stage: str(refused)}, status
    )


async def _finish(
    request: Request, actor: Actor, pending: PendingLogin, logged_in: LoggedIn
) -> Response:
    db: Database = request.app.state.db
    try:
        account_id = await complete_login(
            db, _box(request), actor, login_desk(request), pending, logged_in
        )
    except SetupError as refused:  # e.g. the name was taken while the code was on its way
        errors = {refused.field or "name": str(refused)}
        return await new_page(
            request,
            actor,
            typed=form_values(pending.form),
            errors=errors,
            mode="phone",
            status=409,
        )
    return go(request, f"/accounts/{account_id}")


def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.box
    return box
