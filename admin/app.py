"""The admin FastAPI application: JSON API under /api/v1, health, metrics and the API description.

Every route declares who may call it (``admin.access.deps``); requests are served only for the
configured host names (DNS rebinding), and cookie-authenticated changes need a CSRF token.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from admin.access.csrf import CsrfGuard
from admin.access.deps import AccessConfig, MetricsReader, Public
from admin.access.signin import AccessPolicy
from admin.access.throttle import ThrottlePolicy
from admin.api import auth, config, conversations, leads, operator_actions, ops, users
from admin.api.openapi import document_errors
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
    app.state.access = AccessConfig(
        policy=access_policy(settings),
        csrf_secret=box.derive("csrf"),
        cookie_secure=settings.cookie_secure,
        metrics_token=settings.metrics_token,
    )
    for module in (auth, users, leads, conversations, operator_actions, config, ops):
        app.include_router(module.router, prefix=API_PREFIX)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["operations"])
    app.add_api_route("/metrics", metrics, methods=["GET"], tags=["operations"])
    app.add_api_route(OPENAPI_PATH, openapi_document, methods=["GET"], include_in_schema=False)
    app.add_api_route("/docs", docs_page, methods=["GET"], include_in_schema=False)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(CsrfGuard, secret=box.derive("csrf"), cookie_secure=settings.cookie_secure)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(settings))
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


async def healthz(_: Public, request: Request) -> JSONResponse:
    """200 when the database answers, 503 otherwise."""
    db: Database = request.app.state.db
    try:
        async with db.session() as session:
            await session.execute(text("select 1"))
    except Exception as exc:  # any failure means "not healthy", with the reason
        return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, status_code=503)
    return JSONResponse({"status": "ok"})


async def metrics(_: MetricsReader) -> Response:
    """Prometheus metrics: from loopback, or with the configured metrics token."""
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def openapi_document(_: Public, request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


async def docs_page(_: Public) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=OPENAPI_PATH, title="CoolThing API")


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type only
    errors = [
        {"field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), "reason": e["msg"]}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type only
    detail: Any = exc.detail
    if exc.status_code == 404 and detail == "Not Found":
        detail = "there is nothing at this address"
    elif exc.status_code == 405 and detail == "Method Not Allowed":
        detail = "this address does not take that method"
    if not isinstance(detail, list):  # a list is a 422's field errors
        detail = str(detail)
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    # The reason is logged by uvicorn; the client gets a message, never a traceback.
    return JSONResponse(
        {"detail": f"internal error ({type(exc).__name__}); see the service log"}, status_code=500
    )
