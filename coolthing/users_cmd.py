"""`coolthing users …`: people and their API tokens, against the configured database.

Passwords come from a prompt or standard input, never from the command line (it would sit in the
shell history and in every process listing). Each command is one transaction with its audit row.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from admin.access import users
from core.access import Actor, Role
from core.audit import record
from core.db import Database
from core.db.migrate import upgrade
from core.security import SecretBox
from core.settings import Settings
from core.telegram_link_codes import new_code

T = TypeVar("T")
CLI_ACTOR = Actor(user_id=None, login="cli", role=Role.owner, channel="cli")


@dataclass(frozen=True)
class FirstOwner:
    login: str
    password: str
    token: str


async def in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    db = Database(settings.database_url)
    try:
        await upgrade(db)  # users live in the newest schema; a fresh install has none yet
        async with db.transaction() as session:
            return await work(session)
    finally:
        await db.close()


async def create(
    session: AsyncSession, *, login: str, password: str, role: Role, email: str | None
) -> str:
    user = await users.create_user(
        session=session, login=login, password=password, role=role, email=email
    )
    record(session, "user_created", actor=CLI_ACTOR, target=user.login, role=role)
    return f"created {user.login} ({role})"


async def set_role(session: AsyncSession, *, login: str, role: Role) -> str:
    user = await users.set_role(session=session, login=login, role=role)
    record(session, "user_role", actor=CLI_ACTOR, target=user.login, role=role)
    return f"{user.login} is {role} now"


async def disable(session: AsyncSession, *, login: str) -> str:
    user = await users.disable(session=session, login=login)
    record(session, "user_disabled", actor=CLI_ACTOR, target=user.login)
    return f"{user.login} is disabled: their sessions ended and their tokens stopped working"


async def enable(session: AsyncSession, *, login: str) -> str:
    user = await users.enable(session=session, login=login)
    record(session, "user_enabled", actor=CLI_ACTOR, target=user.login)
    return f"{user.login} is enabled"


async def reset_password(session: AsyncSession, *, login: str, password: str) -> str:
    user = await users.reset_password(session=session, login=login, password=password)
    record(session, "password_reset", actor=CLI_ACTOR, target=user.login)
    return f"{user.login} has a new password; their sessions ended"


async def listing(session: AsyncSession) -> list[str]:
    lines = [f"{'id':>4}  {'login':<24} {'role':<9} {'state':<9} e-mail"]
    for user in await users.all_users(session):
        state = "disabled" if user.disabled_at else "active"
        lines.append(f"{user.id:>4}  {user.login:<24} {user.role:<9} {state:<9} {user.email or ''}")
    return lines


async def create_token(
    session: AsyncSession, *, login: str, name: str, scope: str = "full"
) -> tuple[int, str]:
    user = await users.get_user(session, login)
    row, token = await users.create_token(session=session, user=user, name=name, scope=scope)
    record(
        session, "token_created", actor=CLI_ACTOR, target=user.login, token_id=row.id, scope=scope
    )
    return row.id, token


async def revoke_token(session: AsyncSession, *, token_id: int) -> str:
    row = await users.revoke_token(session=session, token_id=token_id)
    record(session, "token_revoked", actor=CLI_ACTOR, token_id=row.id)
    return f"token {row.id} ({row.name}) is revoked"


@dataclass(frozen=True)
class LinkCodeIssued:
    login: str
    code: str
    expires_at: datetime


async def link_telegram(session: AsyncSession, *, login: str, box: SecretBox) -> LinkCodeIssued:
    """A one-time code that links ``login`` to the Telegram account that sends ``/start CODE``
    to the notifier bot (the code is signed, not stored; the bot records the link)."""
    user = await users.get_user(session, login)
    if user.disabled_at is not None:
        raise users.AccessError(
            f"{user.login} is disabled: enable them first (coolthing users enable {user.login})"
        )
    code, expires = new_code(box, user.id)
    record(session, "telegram_link_code", actor=CLI_ACTOR, target=user.login)
    return LinkCodeIssued(user.login, code, expires)


async def ensure_first_owner(session: AsyncSession, *, login: str = "admin") -> FirstOwner | None:
    """On a database with no users: an owner with a generated password and an API token."""
    if await users.count_users(session):
        return None
    password = secrets.token_urlsafe(12)
    user = await users.create_user(session=session, login=login, password=password, role=Role.owner)
    _, token = await users.create_token(session=session, user=user, name="first start")
    record(session, "user_created", actor=CLI_ACTOR, target=user.login, role=Role.owner)
    return FirstOwner(user.login, password, token)
