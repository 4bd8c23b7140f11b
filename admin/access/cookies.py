"""A browser's session: signing in sets the session cookie and a fresh CSRF cookie, signing out
ends the session on the server and drops the cookie. The JSON sign-in and the panel's form share
it, so both rotate, count failures and audit the same way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request, Response

from admin.access.csrf import CSRF_COOKIE, new_csrf_token
from admin.access.deps import access_config
from admin.access.signin import (
    SESSION_COOKIE,
    SignedIn,
    SignInRefused,
    end_session,
    sign_in,
    sign_out,
)
from core.access import Actor
from core.db import Database


@dataclass(frozen=True)
class BrowserSession:
    signed: SignedIn
    csrf_token: str


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def open_session(
    request: Request, response: Response, db: Database, *, login: str, password: str
) -> BrowserSession:
    """Sign in and set the cookies; ``SignInRefused`` (counted and audited) when refused."""
    config = access_config(request)
    refused: SignInRefused | None = None
    async with db.transaction() as session:
        try:
            signed = await sign_in(
                session,
                login=login,
                password=password,
                client=client_address(request),
                policy=config.policy,
                now=datetime.now(UTC),
            )
        except SignInRefused as exc:
            refused = exc  # committed below all the same: the failure is counted and audited
        old = request.cookies.get(SESSION_COOKIE)
        if refused is None and old:
            await end_session(session, token=old)  # sign-in rotates the session
    if refused is not None:
        raise refused
    max_age = int(config.policy.max_age.total_seconds())
    secure = config.cookie_secure
    response.set_cookie(
        SESSION_COOKIE, signed.session_token, max_age, httponly=True, secure=secure, samesite="lax"
    )
    csrf = new_csrf_token(config.csrf_secret)
    response.set_cookie(CSRF_COOKIE, csrf, httponly=False, secure=secure, samesite="lax")
    return BrowserSession(signed, csrf)


async def close_session(request: Request, response: Response, db: Database, actor: Actor) -> None:
    """End this browser's session on the server (a bearer token stays valid: revoke it)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    async with db.transaction() as session:
        if cookie and actor.channel == "panel":
            await sign_out(session, token=cookie, actor=actor)
    response.delete_cookie(SESSION_COOKIE)
