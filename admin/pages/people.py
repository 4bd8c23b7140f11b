"""Users (owner only): who may use the panel, with which role; add one, change a role, disable or
enable — the same service functions and audit rows as the JSON API and the CLI."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response

from admin.access import users
from admin.access.deps import Owner
from admin.pages.rendering import render, translations
from admin.pages.viewers import viewer_for
from core.access import Actor, Role
from core.audit import record
from core.db import Database

router = APIRouter(include_in_schema=False)
Login = Annotated[str, Path(min_length=1, max_length=64)]


async def _page(
    request: Request,
    actor: Actor,
    *,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    notice: str = "",
    status: int = 200,
) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        people = await users.all_users(session)
    context = {
        "people": people,
        "roles": list(Role),
        "errors": errors or {},
        "typed": typed or {},
        "notice": notice,
    }
    return render(request, viewer, "users/page.html", context, status=status)


@router.get("/users")
async def people(actor: Owner, request: Request) -> Response:
    return await _page(request, actor)


@router.post("/users")
async def add(
    actor: Owner,
    request: Request,
    login: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    role: Annotated[str, Form(max_length=16)] = "operator",
    email: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    """A new user; a refusal is shown next to the field it is about, with what was typed kept
    (never the password), and nothing is written."""
    typed = {"login": login, "role": role, "email": email}
    _ = translations((await viewer_for(request, actor)).language).gettext
    if role not in Role.__members__:
        return await _page(
            request, actor, errors={"role": _("Pick a role.")}, typed=typed, status=422
        )
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            user = await users.create_user(
                session=session,
                login=login,
                password=password,
                role=Role(role),
                email=email.strip() or None,
            )
            record(session, "user_created", actor=actor, target=user.login, role=user.role)
    except users.AccessError as exc:
        field = exc.field or "login"
        return await _page(request, actor, errors={field: str(exc)}, typed=typed, status=422)
    notice = _("%(login)s can sign in now.") % {"login": user.login}
    return await _page(request, actor, notice=notice)


@router.post("/users/{login}")
async def change(
    actor: Owner,
    request: Request,
    login: Login,
    role: Annotated[str | None, Form(max_length=16)] = None,
    disabled: Annotated[str | None, Form(max_length=5)] = None,
) -> Response:
    """Change a role, or disable (their sessions and tokens end at once) or enable a user."""
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            if role is not None and role in Role.__members__:
                user = await users.set_role(session=session, login=login, role=Role(role))
                record(session, "user_role", actor=actor, target=user.login, role=role)
            if disabled == "true":
                user = await users.disable(session=session, login=login)
                record(session, "user_disabled", actor=actor, target=user.login)
            elif disabled == "false":
                user = await users.enable(session=session, login=login)
                record(session, "user_enabled", actor=actor, target=user.login)
    except users.AccessError as exc:
        status = 404 if exc.missing else 409
        return await _page(request, actor, errors={f"user:{login}": str(exc)}, status=status)
    return await _page(request, actor)
