"""Who may call a route, declared on the route itself through an Annotated dependency.

Every route of the app takes exactly one of: ``Public`` (anyone), ``MetricsReader`` (loopback or
the metrics token), ``CurrentUser`` (anyone signed in), a role (``Viewer``, ``Operator``,
``Admin``, ``Owner``) or ``AlertSender`` (an operator, or a token of scope "alerts");
tests/unit/test_route_access.py fails the build for a route without one. A token of scope "alerts"
is refused (403) by every route but the one taking ``AlertSender``.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles
from pydantic import SecretStr
from starlette.routing import Mount

from admin.access.signin import (
    SESSION_COOKIE,
    AccessPolicy,
    NotAuthenticated,
    OutOfScope,
    by_session,
    by_token,
)
from core.access import Actor, Role
from core.db import Database


@dataclass(frozen=True)
class AccessConfig:
    """What the app's access checks need, built once from the settings."""

    policy: AccessPolicy
    csrf_secret: str
    cookie_secure: bool
    metrics_token: SecretStr | None


def access_config(request: Request) -> AccessConfig:
    config: AccessConfig = request.app.state.access
    return config


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _unauthenticated(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(request: Request) -> Actor:
    """The signed-in person: a bearer token of full scope when one is sent, else the session
    cookie."""
    actor, _ = await _authenticate(request, scopes=("full",))
    return actor


async def _authenticate(request: Request, *, scopes: tuple[str, ...]) -> tuple[Actor, str | None]:
    """The person, and the scope of the bearer token that said so (None: the session cookie)."""
    db: Database = request.app.state.db
    token, cookie = bearer_token(request), request.cookies.get(SESSION_COOKIE)
    if token is None and not cookie:
        raise _unauthenticated(
            "sign in first: POST /api/v1/auth/login, or send Authorization: Bearer <API token>"
        )
    now = datetime.now(UTC)
    async with db.transaction() as session:  # committed either way: an ended session is deleted
        try:
            if token is not None:
                return await by_token(session, token=token, now=now, scopes=scopes)
            assert cookie is not None  # noqa: S101 - checked above
            policy = access_config(request).policy
            return await by_session(session, token=cookie, policy=policy, now=now), None
        except NotAuthenticated as exc:
            refusal = str(exc)
        except OutOfScope as exc:
            raise HTTPException(403, str(exc)) from None
    raise _unauthenticated(refusal)


class RequireRole:
    """A dependency that lets through people whose role is ``role`` or above."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(self, actor: Annotated[Actor, Depends(authenticate)]) -> Actor:
        if not actor.role.allows(self.role):
            raise HTTPException(
                403, f"this needs the {self.role} role or above; {actor.login} is {actor.role}"
            )
        return actor

    def __repr__(self) -> str:
        return f"RequireRole({self.role})"


class RequireAlertSender:
    """Sending alerts: an operator or above (token or session), or any user's token of scope
    "alerts" (what Alertmanager is given), whatever that user's role."""

    role = Role.operator
    described = "operator, or a token of scope alerts"

    async def __call__(self, request: Request) -> Actor:
        actor, scope = await _authenticate(request, scopes=("full", "alerts"))
        if actor.role.allows(self.role) or scope == "alerts":
            return actor
        raise HTTPException(
            403,
            f"sending alerts needs the operator role or a token of scope alerts; "
            f"{actor.login} is {actor.role}",
        )

    def __repr__(self) -> str:
        return "RequireAlertSender()"


def anyone() -> None:
    """Declares a route open to everyone (health, sign-in, the API description)."""


def metrics_reader(request: Request) -> None:
    """Prometheus metrics: from loopback, or with ``Authorization: Bearer <metrics token>``."""
    client = request.client.host if request.client else ""
    try:
        if ipaddress.ip_address(client).is_loopback:
            return
    except ValueError:
        pass
    configured = access_config(request).metrics_token
    sent = bearer_token(request)
    if configured is None:
        raise HTTPException(403, "metrics are served to loopback only (no metrics token is set)")
    if sent is None or not secrets.compare_digest(sent, configured.get_secret_value()):
        raise _unauthenticated("metrics need Authorization: Bearer <COOLTHING_METRICS_TOKEN>")


Public = Annotated[None, Depends(anyone)]
MetricsReader = Annotated[None, Depends(metrics_reader)]
CurrentUser = Annotated[Actor, Depends(RequireRole(Role.viewer))]
Viewer = Annotated[Actor, Depends(RequireRole(Role.viewer))]
Operator = Annotated[Actor, Depends(RequireRole(Role.operator))]
Admin = Annotated[Actor, Depends(RequireRole(Role.admin))]
Owner = Annotated[Actor, Depends(RequireRole(Role.owner))]
AlertSender = Annotated[Actor, Depends(RequireAlertSender())]


def declared_access(call_tree: Any) -> str | None:
    """What a route's dependencies declare: ``public``, ``metrics`` or a role name; None when
    nothing is declared (which the route-table test refuses)."""
    for dependency in call_tree.dependencies:
        call = dependency.call
        if isinstance(call, RequireRole):
            return call.role.value
        if isinstance(call, RequireAlertSender):
            return call.described
        if call is anyone:
            return "public"
        if call is metrics_reader:
            return "metrics"
        if (found := declared_access(dependency)) is not None:
            return found
    return None


@dataclass(frozen=True)
class Endpoint:
    """One route as the app serves it (prefixes applied), with the access it declares."""

    path: str
    methods: frozenset[str]
    access: str | None
    in_schema: bool
    has_path_params: bool


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every route of ``app``, those of included routers too; a route that is not a FastAPI
    route (a mount, a plain Starlette route) has no dependencies, so it declares nothing."""
    found: list[Endpoint] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        api = isinstance(route, APIRoute)
        static = isinstance(route, Mount) and isinstance(route.app, StaticFiles)
        access = declared_access(context.dependant) if api else None
        found.append(
            Endpoint(
                path=context.path_format or str(getattr(route, "path", route)),
                methods=frozenset(context.methods or ()),
                access="public (the panel's CSS and scripts)" if static else access,
                in_schema=api and bool(context.include_in_schema),
                has_path_params="{" in (context.path_format or ""),
            )
        )
    return found
