"""The admin FastAPI application: JSON API under /api/v1, health, metrics and the API description.

Every route declares who may call it (``admin.access.deps``); requests are served only for the
configured host names (DNS rebinding), and cookie-authenticated changes need a CSRF token.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.routing import iter_route_contexts
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from admin import pages
from admin.access.csrf import CsrfGuard
from admin.access.deps import AccessConfig, MetricsReader, Public
from admin.access.signin import AccessPolicy
from admin.access.throttle import ThrottlePolicy
from admin.api import (
    accounts,
    alerts,
    auth,
    campaigns,
    chats,
    conversations,
    dead_letters,
    intent_judge,
    keyword_sets,
    lead_marks,
    leads,
    operator_actions,
    ops,
    prompts,
    runs,
    scenarios,
    users,
    workers,
    workspace,
)
from admin.api.openapi import document_errors
from admin.api.schemas import HealthRead
from admin.pages import errors as page_errors
from core.bus import Bus
from core.db import Database
from core.security import SecretBox, check_cookie_settings
from core.settings import Settings

API_PREFIX = "/api/v1"
OPENAPI_PATH = f"{API_PREFIX}/openapi.json"


def create_app(*, db: Database, bus: Bus, settings: Settings, box: SecretBox) -> FastAPI:
    check_cookie_settings(settings)
    app = FastAPI(
        title="CoolThing",
        version="0.1.0",
        description=(
            "Telegram outreach and community automation: admin API. Authenticate with "
            "`Authorization: Bearer <API token>` (create one with `coolthing users token create`) "
            "or with the session cookie from `POST /api/v1/auth/login` plus `X-CSRFToken` on "
            "changes. Errors are `{detail: string}`, validation errors (422) are "
            "`{detail: [{field, reason}]}`. Times are RFC 3339 with their offset."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.db = db
    app.state.bus = bus
    app.state.settings = settings
    app.state.box = box  # encrypts secrets a change carries (workspace import, accounts)
    app.state.access = AccessConfig(
        policy=access_policy(settings),
        csrf_secret=box.derive("csrf"),
        cookie_secure=settings.cookie_secure,
        metrics_token=settings.metrics_token,
    )
    for module in (
        auth,
        users,
        leads,
        lead_marks,
        conversations,
        operator_actions,
        accounts,
        keyword_sets,
        chats,
        campaigns,
        intent_judge,
        ops,
        prompts,
        dead_letters,
        workspace,
        alerts,
        scenarios,
        runs,
        workers,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    pages.install(app)
    app.add_api_route(
        "/healthz",
        healthz,
        methods=["GET"],
        tags=["operations"],
        response_model=HealthRead,
        response_model_exclude_none=True,
        responses={503: {"model": HealthRead, "description": "the database does not answer"}},
    )
    app.add_api_route(
        "/metrics",
        metrics,
        methods=["GET"],
        tags=["operations"],
        response_class=PlainTextResponse,
        responses={200: {"description": "Prometheus text format", "content": {"text/plain": {}}}},
    )
    app.add_api_route(OPENAPI_PATH, openapi_document, methods=["GET"], include_in_schema=False)
    app.add_api_route("/docs", docs_page, methods=["GET"], include_in_schema=False)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(CsrfGuard, secret=box.derive("csrf"), cookie_secure=settings.cookie_secure)
    app.add_middleware(HostCheck, allowed_hosts=allowed_hosts(settings))
    document_errors(app)
    return app


def access_policy(settings: Settings) -> AccessPolicy:
    window = timedelta(minutes=settings.login_window_minutes)
    return AccessPolicy(
        idle=timedelta(minutes=settings.session_idle_minutes),
        max_age=timedelta(hours=settings.session_max_hours),
        throttle=ThrottlePolicy(
            per_login=settings.login_max_failures,
            per_client=settings.login_max_failures_per_client,
            window=window,
        ),
    )


def allowed_hosts(settings: Settings) -> list[str]:
    hosts = list(settings.allowed_hosts)
    if settings.api_host not in ("0.0.0.0", "::", ""):  # noqa: S104 - compared, not bound
        hosts.append(settings.api_host)
    return hosts


class HostCheck:
    """Serves only the configured host names (DNS rebinding defence), with the rules of
    Starlette's TrustedHostMiddleware ("*", "*.example.com"), refusing in our error shape. The app
    has no WebSocket routes, so only HTTP is checked."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.allowed = [host.lower() for host in allowed_hosts]

    def allows(self, host: str) -> bool:
        return any(
            pattern in ("*", host) or (pattern.startswith("*.") and host.endswith(pattern[1:]))
            for pattern in self.allowed
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.allows(_host_name(scope)):
            refusal = {"detail": "this service does not answer for that host name"}
            await JSONResponse(refusal, status_code=400)(scope, receive, send)
            return
        await self.app(scope, receive, send)


_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[^\s:\[\]@/]+)(?::[0-9]{1,5})?")


def _host_name(scope: Scope) -> str:
    """The Host header without its port ("" when it is no host): an IPv6 address keeps its
    brackets, as allowed_hosts writes it ("[::1]")."""
    host = _HOST.fullmatch(Headers(scope=scope).get("host", "").lower())
    return host[1] if host else ""


async def healthz(_: Public, request: Request) -> HealthRead | JSONResponse:
    """200 when the database answers, 503 otherwise."""
    db: Database = request.app.state.db
    try:
        async with db.session() as session:
            await session.execute(text("select 1"))
    except Exception as exc:  # any failure means "not healthy", with the reason
        down = HealthRead(status="unavailable", database=str(exc)[:200])
        return JSONResponse(down.model_dump(), status_code=503)
    return HealthRead(status="ok")


async def metrics(_: MetricsReader) -> Response:
    """Prometheus metrics: from loopback, or with the configured metrics token."""
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def openapi_document(_: Public, request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


async def docs_page(_: Public) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=OPENAPI_PATH, title="CoolThing API")


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type only
    errors = [_field_error(e) for e in exc.errors()]
    if page_errors.is_page(request):
        said = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        in_address = any(e["loc"][:1] == ("path",) for e in exc.errors())
        status = 404 if in_address else 400  # a malformed id in the address names nothing
        return page_errors.page_error(request, status, said)
    return JSONResponse({"detail": errors}, status_code=422)


def _field_error(error: Any) -> dict[str, str]:
    where = [str(part) for part in error["loc"]]
    if error["type"] == "json_invalid":  # the location is a character position in the body
        reason = error.get("ctx", {}).get("error", "")
        return {"field": where[0], "reason": f"not valid JSON: {reason} at character {where[-1]}"}
    return {"field": ".".join(where[1:]) or where[0], "reason": error["msg"]}


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type only
    detail: Any = exc.detail
    if exc.status_code == 404 and detail == "Not Found":
        detail = "there is nothing at this address"
    headers = exc.headers
    if exc.status_code == 405:
        detail = "this address does not take that method"
        headers = {**(headers or {}), "Allow": _allowed_methods(_request)}
    if not isinstance(detail, list):  # a list is a 422's field errors
        detail = str(detail)
    if page_errors.is_page(_request):
        return page_errors.page_error(_request, exc.status_code, str(exc.detail))
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method some route takes at this path (Starlette names only the first route's).
    The path with its convertors: ``/scenarios/{scenario_id:int}`` takes nothing at
    ``/scenarios/check``."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        if route.path and compile_path(route.path)[0].match(request.url.path):
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


# PostgreSQL's "character not in repertoire": a NUL in text it was asked to store or compare.
NUL_REFUSED = "22021"
NUL_REASON = "a NUL character cannot be stored or searched for; remove it"


async def _database_error(_request: Request, exc: Exception) -> Response:
    """A NUL PostgreSQL refused is the caller's input: every typed field refuses control
    characters by name, and this is the net under one that does not yet (the transaction rolled
    back: nothing was written). Any other database error is unexpected."""
    if not isinstance(exc, DBAPIError) or getattr(exc.orig, "sqlstate", None) != NUL_REFUSED:
        raise exc
    if page_errors.is_page(_request):
        return page_errors.page_error(_request, 400, NUL_REASON)
    return JSONResponse({"detail": [{"field": "", "reason": NUL_REASON}]}, status_code=422)


async def _unexpected(_request: Request, exc: Exception) -> Response:
    # The reason is logged by uvicorn; the client gets a message, never a traceback.
    if page_errors.is_page(_request):
        return page_errors.page_error(_request, 500, f"internal error ({type(exc).__name__})")
    return JSONResponse(
        {"detail": f"internal error ({type(exc).__name__}); see the service log"}, status_code=500
    )
