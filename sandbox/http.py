"""HTTP plumbing shared by the Bot API, the user-account API and the test endpoints.

One middleware turns every failure into the JSON envelope of the API that was called: a bad input
is a 400 naming the field, an unexpected bug a 500 with no traceback in the body (it is logged).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from sandbox.errors import BotApiError, SandboxError
from sandbox.state import World

if TYPE_CHECKING:
    from sandbox.audience import Audience
    from sandbox.lively import LivelyAudience

log = logging.getLogger("sandbox")
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


@dataclass
class Runtime:
    """What handlers share: the world, the audiences (the steady chatter and the one answering
    our accounts' questions in lively chats), and whether the server is stopping."""

    world: World
    audience: Audience
    lively: LivelyAudience
    stopping: bool = False


RUNTIME = web.AppKey("runtime", Runtime)


def runtime(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


def describe(exc: ValidationError) -> str:
    """'field: problem' for the first few problems, the way an API user wants to read them."""
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SandboxError("BAD_REQUEST", describe(exc)) from None


def parse_as(adapter: TypeAdapter[T], data: Any) -> T:
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        raise SandboxError("BAD_REQUEST", describe(exc)) from None


async def json_body(request: web.Request) -> Any:
    if not request.can_read_body:
        return {}
    try:
        return await request.json()
    except ValueError:
        raise SandboxError("BAD_REQUEST", "the body must be JSON") from None


def ok(**payload: Any) -> web.Response:
    return web.json_response({"ok": True, **payload}, dumps=dumps)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except SandboxError as exc:
        return web.json_response(exc.body(), status=exc.status, dumps=dumps)
    except BotApiError as exc:
        return web.json_response(exc.body(), status=exc.status, dumps=dumps)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        body = {"ok": False, "error_code": exc.status, "description": exc.reason}
        return web.json_response(body, status=exc.status, headers=_allow(exc), dumps=dumps)
    except Exception:
        log.exception("sandbox: unhandled error in %s %s", request.method, request.path)
        body = {"ok": False, "error_code": 500, "description": "Internal Server Error"}
        return web.json_response(body, status=500, dumps=dumps)


def _allow(exc: web.HTTPException) -> dict[str, str]:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else {}
