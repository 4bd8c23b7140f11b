"""API tokens in the panel: everyone makes, reads and revokes their own (the token is shown once,
only its SHA-256 is kept); an owner reads and revokes anyone's. The same service functions and
audit rows as the JSON API (``/api/v1/tokens``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response

from admin.access import users
from admin.access.deps import CurrentUser, Owner
from admin.api.fields import DB_INT_MAX
from admin.pages.errors import page_error
from admin.pages.rendering import render, translations
from admin.pages.viewers import viewer_for
from core.access import Actor
from core.audit import record
from core.db import Database

router = APIRouter(include_in_schema=False)
TokenId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
Login = Annotated[str, Path(min_length=1, max_length=64)]


async def _page(
    request: Request,
    actor: Actor,
    login: str,
    *,
    errors: dict[str, str] | None = None,
    typed: str = "",
    made: str = "",
    status: int = 200,
) -> Response:
    """``login``'s tokens: one's own page (``/me/tokens``) or, for an owner, someone else's."""
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        try:
            person = await users.get_user(session, login)
        except users.AccessError:
            return page_error(request, 404, f"there is no user {login}")
        tokens = await users.tokens_of(session, person)
    context = {
        "person": person,
        "own": person.login == actor.login,
        "tokens": sorted(tokens, key=lambda t: (t.revoked_at is not None, -t.id)),
        "errors": errors or {},
        "typed": typed,
        "made": made,
    }
    return render(request, viewer, "tokens/page.html", context, status=status)


@router.get("/me/tokens")
async def my_tokens(actor: CurrentUser, request: Request) -> Response:
    return await _page(request, actor, actor.login)


@router.post("/me/tokens")
async def make_token(
    actor: CurrentUser,
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    scope: Annotated[str, Form(max_length=16)] = "full",
) -> Response:
    """A new token with the user's own role (or only sending alerts); shown in this answer only."""
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            person = await users.get_user(session, actor.login)
            row, token = await users.create_token(
                session=session, user=person, name=name, scope=scope
            )
            record(
                session,
                "token_created",
                actor=actor,
                token_id=row.id,
                name=row.name,
                scope=row.scope,
            )
    except users.AccessError as exc:
        errors = {exc.field or "name": str(exc)}
        return await _page(request, actor, actor.login, errors=errors, typed=name, status=422)
    return await _page(request, actor, actor.login, made=token)


@router.post("/me/tokens/{token_id}/revoke")
async def revoke_mine(actor: CurrentUser, request: Request, token_id: TokenId) -> Response:
    return await _revoke(request, actor, actor.login, token_id, owner_id=actor.user_id)


@router.get("/users/{login}/tokens")
async def tokens_of(actor: Owner, request: Request, login: Login) -> Response:
    return await _page(request, actor, login)


@router.post("/users/{login}/tokens/{token_id}/revoke")
async def revoke_theirs(
    actor: Owner, request: Request, login: Login, token_id: TokenId
) -> Response:
    db: Database = request.app.state.db
    async with db.session() as session:
        try:
            person = await users.get_user(session, login)
        except users.AccessError:
            return page_error(request, 404, f"there is no user {login}")
    return await _revoke(request, actor, login, token_id, owner_id=person.id)


async def _revoke(
    request: Request, actor: Actor, login: str, token_id: int, *, owner_id: int | None
) -> Response:
    """Revoke one of ``owner_id``'s tokens; another person's token id is a 404, not theirs."""
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            await users.revoke_token(session=session, token_id=token_id, owner_id=owner_id)
            record(session, "token_revoked", actor=actor, token_id=token_id, owner=login)
    except users.AccessError:
        _ = translations((await viewer_for(request, actor)).language).gettext
        return page_error(request, 404, _("There is no such token."))
    return await _page(request, actor, login)
