"""The admin FastAPI application: JSON API under /api/v1, health and Prometheus metrics."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from admin.api import config, conversations, leads, ops
from core.bus import Bus
from core.db import Database


def create_app(*, db: Database, bus: Bus) -> FastAPI:
    app = FastAPI(
        title="CoolThing",
        version="0.1.0",
        description="Telegram outreach and community automation: admin API.",
    )
    app.state.db = db
    app.state.bus = bus
    for module in (leads, conversations, config, ops):
        app.include_router(module.router, prefix="/api/v1")
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["operations"])
    app.add_api_route("/metrics", metrics, methods=["GET"], tags=["operations"])
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
    return app


async def healthz(request: Request) -> JSONResponse:
    """200 when the database answers, 503 otherwise."""
    db: Database = request.app.state.db
    try:
        async with db.session() as session:
            await session.execute(text("select 1"))
    except Exception as exc:  # any failure means "not healthy", with the reason
        return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, status_code=503)
    return JSONResponse({"status": "ok"})


async def metrics(_request: Request) -> Response:
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type only
    errors = [
        {"field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), "reason": e["msg"]}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    # The reason is logged by uvicorn; the client gets a message, never a traceback.
    return JSONResponse(
        {"detail": f"internal error ({type(exc).__name__}); see the service log"}, status_code=500
    )
