"""Sign-in throttling per login and per client address, kept in the database so every admin
process sees the same count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import LoginFailure


@dataclass(frozen=True)
class ThrottlePolicy:
    per_login: int
    per_client: int
    window: timedelta


def keys(login: str, client: str) -> dict[str, str]:
    return {"login": f"login:{login[:140]}", "client": f"client:{client[:140]}"}


async def locked_until(
    session: AsyncSession, *, login: str, client: str, policy: ThrottlePolicy, now: datetime
) -> datetime | None:
    """When sign-in opens again for this login or this address, or None when it is open."""
    limits = {"login": policy.per_login, "client": policy.per_client}
    until: datetime | None = None
    for kind, key in keys(login, client).items():
        limit = limits[kind]
        recent = (
            await session.scalars(
                select(LoginFailure.at)
                .where(LoginFailure.key == key, LoginFailure.at > now - policy.window)
                .order_by(LoginFailure.at.desc())
                .limit(limit)
            )
        ).all()
        if len(recent) >= limit:
            # Open again once the oldest of the last ``limit`` failures leaves the window.
            opens = _aware(recent[-1], now) + policy.window
            until = opens if until is None else max(until, opens)
    return until


def _aware(at: datetime, now: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=now.tzinfo)  # SQLite drops it


def record_failure(session: AsyncSession, *, login: str, client: str, now: datetime) -> None:
    for key in keys(login, client).values():
        session.add(LoginFailure(key=key, at=now))


async def clear_login(session: AsyncSession, *, login: str, policy: ThrottlePolicy) -> None:
    """A successful sign-in forgets the login's failures (the address keeps its count)."""
    await session.execute(delete(LoginFailure).where(LoginFailure.key == keys(login, "")["login"]))
