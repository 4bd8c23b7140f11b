"""Signing in and out, and who a request is: a session cookie (the panel) or a bearer token."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.access import throttle
from admin.access.passwords import verify_password
from admin.access.users import find_user, token_digest
from core.access import Actor, Role
from core.audit import printable, record
from core.db.models import ApiToken, LoginFailure, User, UserSession

SESSION_COOKIE = "coolthing_session"
TOUCH_EVERY = timedelta(seconds=60)  # last-seen/last-used writes at most this often


@dataclass(frozen=True)
class AccessPolicy:
    idle: timedelta
    max_age: timedelta
    throttle: throttle.ThrottlePolicy


class SignInRefused(Exception):
    """Wrong credentials (never saying which part), or locked for ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotAuthenticated(Exception):
    """The request carries no valid credential; the message says what to do."""


class OutOfScope(Exception):
    """A valid token used beyond its scope (an "alerts" token anywhere but sending alerts)."""


@dataclass(frozen=True)
class SignedIn:
    actor: Actor
    session_token: str
    expires_at: datetime


async def sign_in(
    session: AsyncSession,
    *,
    login: str,
    password: str,
    client: str,
    policy: AccessPolicy,
    now: datetime,
) -> SignedIn:
    """Check the password (throttled), start a new session and audit the attempt either way.

    The caller commits even when this raises ``SignInRefused``: failures must be counted."""
    attempted = printable(login.strip().lower())
    until = await throttle.locked_until(
        session, login=attempted, client=client, policy=policy.throttle, now=now
    )
    if until is not None:
        record(session, "login_locked", login=attempted, channel="panel", client=client)
        minutes = max(1, math.ceil((until - now).total_seconds() / 60))
        raise SignInRefused(
            f"too many failed sign-ins: try again in {minutes} minute{'s' if minutes > 1 else ''}",
            retry_after=max(1, math.ceil((until - now).total_seconds())),
        )
    user = await find_user(session, attempted)
    stored = user.password_hash if user is not None else None
    if not await verify_password(stored, password) or user is None or user.disabled_at is not None:
        throttle.record_failure(session, login=attempted, client=client, now=now)
        await session.execute(
            delete(LoginFailure).where(LoginFailure.at < now - 4 * policy.throttle.window)
        )
        record(session, "login_failed", login=attempted, channel="panel", client=client)
        raise SignInRefused("wrong login or password")
    await throttle.clear_login(session, login=attempted, policy=policy.throttle)
    token = secrets.token_urlsafe(32)
    expires = now + policy.max_age
    session.add(
        UserSession(
            id=token_digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=expires,
            client=client[:64],
        )
    )
    actor = Actor(user_id=user.id, login=user.login, role=Role(user.role), channel="panel")
    record(session, "login", actor=actor, client=client)
    return SignedIn(actor, token, expires)


async def end_session(session: AsyncSession, *, token: str) -> None:
    await session.execute(delete(UserSession).where(UserSession.id == token_digest(token)))


async def sign_out(session: AsyncSession, *, token: str, actor: Actor) -> None:
    await end_session(session, token=token)
    record(session, "logout", actor=actor)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite drops the zone


async def by_session(
    session: AsyncSession, *, token: str, policy: AccessPolicy, now: datetime
) -> Actor:
    row = await session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.id == token_digest(token))
    )
    found = row.first()
    if found is None:
        raise NotAuthenticated("your session has ended: sign in again")
    user_session, user = found
    if user.disabled_at is not None:
        raise NotAuthenticated("this user is disabled")
    if now >= _aware(user_session.expires_at):
        await session.delete(user_session)
        raise NotAuthenticated("your session expired: sign in again")
    if now - _aware(user_session.last_seen_at) >= policy.idle:
        await session.delete(user_session)
        raise NotAuthenticated("your session ended after being idle: sign in again")
    if now - _aware(user_session.last_seen_at) >= TOUCH_EVERY:
        user_session.last_seen_at = now
    return Actor(user_id=user.id, login=user.login, role=Role(user.role), channel="panel")


async def by_token(
    session: AsyncSession, *, token: str, now: datetime, scopes: tuple[str, ...] = ("full",)
) -> tuple[Actor, str]:
    """The token's user and the token's scope; ``OutOfScope`` when that scope is not among
    ``scopes``."""
    row = await session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_digest(token))
    )
    found = row.first()
    if found is None or found[0].revoked_at is not None or found[1].disabled_at is not None:
        raise NotAuthenticated("the API token is not valid (revoked, mistyped, or user disabled)")
    api_token, user = found
    if api_token.scope not in scopes:
        raise OutOfScope(f"this token may only send alerts (its scope is {api_token.scope})")
    if api_token.last_used_at is None or now - _aware(api_token.last_used_at) >= TOUCH_EVERY:
        api_token.last_used_at = now
    actor = Actor(user_id=user.id, login=user.login, role=Role(user.role), channel="api")
    return actor, api_token.scope
