"""Users, roles and API tokens: what the CLI and the owner's API routes do to them.

Service functions take the caller's session and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.access.passwords import check_strength, hash_password
from core.access import Role
from core.db.models import ApiToken, User, UserSession

LOGIN_RULE = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
EMAIL_RULE = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}")
TOKEN_PREFIX = "ct_"  # noqa: S105 - a prefix that marks our tokens in logs and scanners
# "full": whatever the user's role allows; "alerts": only sending alerts (what Alertmanager or a
# monitoring script is given, so a leaked copy cannot read leads or approve drafts).
TOKEN_SCOPES = ("full", "alerts")


class AccessError(Exception):
    """A refusal a person can act on: a taken login, a weak password, the last owner.
    ``field`` names the input at fault (invalid input, not a conflict with what exists)."""

    def __init__(self, message: str, *, missing: bool = False, field: str | None = None) -> None:
        super().__init__(message)
        self.missing = missing
        self.field = field


def normalise_login(login: str) -> str:
    clean = login.strip().lower()
    if not LOGIN_RULE.fullmatch(clean):
        raise AccessError(
            "a login is 2-64 characters: latin letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            field="login",
        )
    return clean


def token_digest(token: str) -> str:
    """API tokens and session tokens are random, so SHA-256 is enough (no slow hash needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def find_user(session: AsyncSession, login_or_email: str) -> User | None:
    key = login_or_email.strip().lower()
    column = User.email if "@" in key else User.login
    user: User | None = await session.scalar(select(User).where(column == key))
    return user


async def get_user(session: AsyncSession, login: str) -> User:
    user = await find_user(session, login)
    if user is None:
        raise AccessError(f"there is no user {login!r}", missing=True)
    return user


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def create_user(
    *, session: AsyncSession, login: str, password: str, role: Role, email: str | None = None
) -> User:
    login = normalise_login(login)
    if (problem := check_strength(password, login=login)) is not None:
        raise AccessError(problem, field="password")
    if email is not None:
        email = email.strip().lower()
        if not EMAIL_RULE.fullmatch(email):
            raise AccessError(f"{email!r} is not an e-mail address", field="email")
        if await find_user(session, email) is not None:
            raise AccessError(f"the e-mail {email} belongs to another user")
    if await find_user(session, login) is not None:
        raise AccessError(f"the login {login!r} is taken")
    user = User(login=login, email=email, password_hash=await hash_password(password), role=role)
    session.add(user)
    await session.flush()
    return user


async def _other_active_owners(session: AsyncSession, user: User) -> int:
    query = select(func.count()).where(
        User.role == Role.owner, User.disabled_at.is_(None), User.id != user.id
    )
    return int(await session.scalar(query) or 0)


async def _keep_an_owner(session: AsyncSession, user: User, what: str) -> None:
    if user.role == Role.owner and not await _other_active_owners(session, user):
        raise AccessError(
            f"{user.login} is the last active owner: make another owner before {what}"
        )


async def set_role(*, session: AsyncSession, login: str, role: Role) -> User:
    user = await get_user(session, login)
    if role != Role.owner:
        await _keep_an_owner(session, user, "changing their role")
    user.role = role
    return user


async def disable(*, session: AsyncSession, login: str) -> User:
    """The user's sessions end now; their tokens stop working because the user is disabled."""
    user = await get_user(session, login)
    await _keep_an_owner(session, user, "disabling them")
    user.disabled_at = user.disabled_at or datetime.now(UTC)
    await session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    return user


async def enable(*, session: AsyncSession, login: str) -> User:
    user = await get_user(session, login)
    user.disabled_at = None
    return user


async def reset_password(*, session: AsyncSession, login: str, password: str) -> User:
    """A new password ends every session of the user (tokens stay: revoke them separately)."""
    user = await get_user(session, login)
    if (problem := check_strength(password, login=user.login)) is not None:
        raise AccessError(problem, field="password")
    user.password_hash = await hash_password(password)
    user.password_changed_at = datetime.now(UTC)
    await session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    return user


async def create_token(
    *, session: AsyncSession, user: User, name: str, scope: str = "full"
) -> tuple[ApiToken, str]:
    """A new token for ``user``: the row, and the token itself, which is never stored."""
    name = name.strip()
    if not 1 <= len(name) <= 64:
        raise AccessError("a token's name is 1-64 characters (what it is for)", field="name")
    if scope not in TOKEN_SCOPES:
        raise AccessError(
            f"a token's scope is {' or '.join(TOKEN_SCOPES)}, not {scope!r}", field="scope"
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id, name=name, token_hash=token_digest(token), hint=token[:10], scope=scope
    )
    session.add(row)
    await session.flush()
    return row, token


async def revoke_token(
    *, session: AsyncSession, token_id: int, owner_id: int | None = None
) -> ApiToken:
    """Revoke token ``token_id`` (only among ``owner_id``'s tokens when given)."""
    row = await session.get(ApiToken, token_id)
    if row is None or (owner_id is not None and row.user_id != owner_id):
        raise AccessError(f"there is no token {token_id}", missing=True)
    row.revoked_at = row.revoked_at or datetime.now(UTC)
    return row


async def tokens_of(session: AsyncSession, user: User) -> list[ApiToken]:
    rows = await session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
    )
    return list(rows)


async def all_users(session: AsyncSession) -> list[User]:
    return list(await session.scalars(select(User).order_by(User.id)))
