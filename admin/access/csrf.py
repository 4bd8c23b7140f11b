"""CSRF protection for cookie-authenticated requests: starlette-csrf's signed double-submit cookie.

A state-changing request that carries the session cookie must send the ``csrftoken`` cookie's
value back in the ``X-CSRFToken`` header. Requests with a bearer token are exempt (a cross-site
page cannot set that header), and so is sign-in (it has no session to ride on yet). What we add to
the library: a JSON reason instead of plain text, and a fresh token at sign-in (rotation).
"""

from __future__ import annotations

import re
import secrets

from itsdangerous import BadSignature
from itsdangerous.url_safe import URLSafeSerializer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_csrf.middleware import CSRFMiddleware

from admin.access.signin import SESSION_COOKIE

CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "x-csrftoken"
SIGN_IN_PATH = "/api/v1/auth/login"
SIGN_IN_PAGE = "/login"


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, "csrftoken")  # the salt starlette-csrf uses


def new_csrf_token(secret: str) -> str:
    token: str = _serializer(secret).dumps(secrets.token_urlsafe(32))
    return token


class CsrfGuard(CSRFMiddleware):
    def __init__(self, app: ASGIApp, secret: str, *, cookie_secure: bool) -> None:
        super().__init__(
            app,
            secret,
            sensitive_cookies={SESSION_COOKIE},
            exempt_urls=[re.compile(f"^({re.escape(SIGN_IN_PATH)}|{SIGN_IN_PAGE})$")],
            cookie_name=CSRF_COOKIE,
            header_name=CSRF_HEADER,
            cookie_secure=cookie_secure,
            cookie_samesite="lax",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_bearer(scope):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def send(self, message: Message, send: Send, scope: Scope) -> None:
        # The library adds a cookie when the request had none; sign-in sets its own (rotation).
        if message["type"] == "http.response.start" and _sets_cookie(message, self.cookie_name):
            await send(message)
            return
        await super().send(message, send, scope)

    def _get_error_response(self, request: Request) -> Response:
        cookie = request.cookies.get(self.cookie_name)
        sent = request.headers.get(self.header_name)
        if not sent:
            reason = f"this request needs the {CSRF_COOKIE} cookie's value in X-CSRFToken"
        elif not cookie:
            reason = f"the {CSRF_COOKIE} cookie is missing: reload the page or sign in again"
        elif not _valid(self.serializer, sent):
            reason = "the CSRF token is not one we issued"
        else:
            reason = "the CSRF token is stale (the cookie changed): reload the page and retry"
        return JSONResponse({"detail": f"CSRF check failed: {reason}"}, status_code=403)


def _valid(serializer: URLSafeSerializer, token: str) -> bool:
    try:
        serializer.loads(token)
    except BadSignature:
        return False
    return True


def _has_bearer(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return True
    return False


def _sets_cookie(message: Message, name: str) -> bool:
    prefix = f"{name}=".encode()
    return any(
        key.lower() == b"set-cookie" and value.startswith(prefix)
        for key, value in message.get("headers", [])
    )
