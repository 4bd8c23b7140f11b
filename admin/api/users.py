"""People: the owner adds users, changes roles, disables and re-enables them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from admin.access import users
from admin.access.deps import Owner
from admin.access.passwords import MAX_LENGTH, MIN_LENGTH
from admin.api.deps import DbDep, SessionDep
from admin.api.fields import Email
from admin.api.schemas import UserRead
from core.access import Role
from core.audit import record

router = APIRouter(prefix="/users", tags=["access"])
LOGIN = r"^[A-Za-z0-9][A-Za-z0-9._-]+$"  # users.LOGIN_RULE before lower-casing
Login = Annotated[str, Path(min_length=2, max_length=64, pattern=LOGIN)]
REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such user"},
    409: {"description": "refused: a taken login or e-mail, the last owner"},
}


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: str = Field(min_length=2, max_length=64, pattern=LOGIN)
    password: str = Field(
        min_length=MIN_LENGTH,
        max_length=MAX_LENGTH,
        description="not the login; sent once, stored as an argon2 hash",
    )
    role: Role
    email: Email | None = Field(None, max_length=254)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    disabled: StrictBool | None = Field(None, description="true ends the user's sessions at once")


def access_refusal(exc: users.AccessError) -> HTTPException:
    """404 for what does not exist, 422 naming the field at fault, 409 for a conflict."""
    if exc.missing:
        return HTTPException(404, str(exc))
    if exc.field is not None:
        return HTTPException(422, [{"field": exc.field, "reason": str(exc)}])
    return HTTPException(409, str(exc))


@router.get("", response_model=list[UserRead])
async def list_users(_: Owner, session: SessionDep) -> list[UserRead]:
    return [UserRead.model_validate(u) for u in await users.all_users(session)]


@router.post("", response_model=UserRead, status_code=201, responses=REFUSALS)
async def create_user(actor: Owner, body: UserCreate, db: DbDep) -> UserRead:
    async with db.transaction() as session:
        try:
            user = await users.create_user(
                session=session,
                login=body.login,
                password=body.password,
                role=body.role,
                email=body.email,
            )
        except users.AccessError as exc:
            raise access_refusal(exc) from None
        record(session, "user_created", actor=actor, target=user.login, role=user.role)
        return UserRead.model_validate(user)


@router.patch("/{login}", response_model=UserRead, responses=REFUSALS)
async def update_user(actor: Owner, login: Login, body: UserUpdate, db: DbDep) -> UserRead:
    """Change a user's role, or disable (ending their sessions and tokens) or enable them."""
    async with db.transaction() as session:
        try:
            if body.role is not None:
                user = await users.set_role(session=session, login=login, role=body.role)
                record(session, "user_role", actor=actor, target=user.login, role=body.role)
            if body.disabled is True:
                user = await users.disable(session=session, login=login)
                record(session, "user_disabled", actor=actor, target=user.login)
            elif body.disabled is False:
                user = await users.enable(session=session, login=login)
                record(session, "user_enabled", actor=actor, target=user.login)
            user = await users.get_user(session, login)
        except users.AccessError as exc:
            raise access_refusal(exc) from None
        return UserRead.model_validate(user)
