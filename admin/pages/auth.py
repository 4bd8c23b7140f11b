"""Signing in and out of the panel, and one's own language and time zone (the start page, ``/``,
is the dashboard: ``admin.pages.dashboard``)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from admin.access.cookies import close_session, open_session
from admin.access.deps import CurrentUser, Public
from admin.access.signin import SignInRefused
from admin.pages.rendering import LANGUAGES, Viewer, render, translations
from admin.pages.viewers import LANGUAGE_COOKIE, anonymous, viewer_for
from core.db import Database
from core.db.models import User

router = APIRouter(include_in_schema=False)
START_PAGE = "/inbox"


def _safe_next(target: str | None) -> str:
    """Only a path on this site: a crafted ``next`` must not send the user elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return START_PAGE  # "/\\evil.example" is "//evil.example" to a browser
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else START_PAGE


@router.get("/login")
async def login_page(anyone: Public, request: Request, next: str | None = None) -> Response:
    context = {"next": _safe_next(next), "typed": "", "error": None}
    return render(request, anonymous(request), "auth/login.html", context)


@router.post("/login")
async def login(
    anyone: Public,
    request: Request,
    login: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2000)] = START_PAGE,
) -> Response:
    viewer = anonymous(request)
    _ = translations(viewer.language).gettext
    target = _safe_next(next)
    if not login.strip() or not password:
        error = _("Enter your login and password.")
        return _form_again(request, viewer, login, target, error, 400)
    response = RedirectResponse(target, status_code=303)
    db: Database = request.app.state.db
    try:
        opened = await open_session(request, response, db, login=login.strip(), password=password)
    except SignInRefused as refused:
        if refused.retry_after is not None:
            minutes = max(1, refused.retry_after // 60)
            error = _("Too many failed attempts: try again in %(minutes)d min.") % {
                "minutes": minutes
            }
            return _form_again(request, viewer, login, target, error, 429)
        return _form_again(request, viewer, login, target, _("Wrong login or password."), 400)
    async with db.session() as session:
        user = await session.get(User, opened.signed.actor.user_id)
    if user is not None:
        response.set_cookie(LANGUAGE_COOKIE, user.language, samesite="lax", httponly=True)
    return response


def _form_again(
    request: Request, viewer: Viewer, typed: str, target: str, error: str, status: int
) -> Response:
    context = {"next": target, "typed": typed, "error": error}
    return render(request, viewer, "auth/login.html", context, status=status)


@router.post("/logout")
async def logout(actor: CurrentUser, request: Request) -> Response:
    response = Response(status_code=204, headers={"HX-Redirect": "/login"})
    await close_session(request, response, request.app.state.db, actor)
    return response


@router.post("/me/preferences")
async def preferences(
    actor: CurrentUser,
    request: Request,
    language: Annotated[str | None, Form(max_length=8)] = None,
    timezone: Annotated[str | None, Form(max_length=64)] = None,
) -> Response:
    """Switch the panel's language or time zone; the page reloads in it."""
    viewer = await viewer_for(request, actor)
    _ = translations(viewer.language).gettext
    if language is not None and language not in LANGUAGES:
        return Response(_("Unknown language."), status_code=400)
    if timezone is not None and timezone not in available_timezones():
        return Response(_("Unknown time zone."), status_code=400)
    db: Database = request.app.state.db
    async with db.transaction() as session:
        user = await session.get(User, actor.user_id) if actor.user_id is not None else None
        if user is not None:
            user.language = language or user.language
            user.timezone = timezone or user.timezone
    response = Response(status_code=204, headers={"HX-Refresh": "true"})
    if language:
        response.set_cookie(LANGUAGE_COOKIE, language, samesite="lax", httponly=True)
    return response
