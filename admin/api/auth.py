"""Signing in and out, who am I, and one's own API tokens."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from admin.access import users
from admin.access.cookies import close_session, open_session
from admin.access.deps import CurrentUser, Public
from admin.access.signin import SignInRefused
from admin.api.deps import DbDep, SessionDep
from admin.api.fields import DB_INT_MAX, Name, OneLine
from admin.api.schemas import Timestamp, TokenCreated, TokenRead
from admin.api.users import access_refusal
from core.access import Channel, Role
from core.audit import record

router = APIRouter(prefix="/auth", tags=["access"])


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: OneLine = Field(min_length=1, max_length=254, description="login or e-mail")
    password: str = Field(min_length=1, max_length=256)


class SignedInRead(BaseModel):
    login: str
    role: Role
    expires_at: Timestamp
    csrf_token: str = Field(description="send it back as X-CSRFToken on every change")


class MeRead(BaseModel):
    user_id: int | None
    login: str
    role: Role
    channel: Channel


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(min_length=1, max_length=64, description="what the token is for")
    scope: Literal["full", "alerts"] = Field(
        "full", description="full: what your role allows; alerts: only sending alerts"
    )


TokenId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/login",
    response_model=SignedInRead,
    responses={401: {"description": "wrong login or password"}, 429: {"description": "locked"}},
)
async def login(
    _: Public, request: Request, response: Response, body: Credentials, db: DbDep
) -> SignedInRead:
    """Start a session: an HttpOnly cookie, and a CSRF token for the changes that follow."""
    try:
        opened = await open_session(request, response, db, login=body.login, password=body.password)
    except SignInRefused as refused:
        if refused.retry_after is not None:
            retry = {"Retry-After": str(refused.retry_after)}
            raise HTTPException(429, str(refused), retry) from None
        raise HTTPException(401, str(refused)) from None
    signed = opened.signed
    return SignedInRead(
        login=signed.actor.login,
        role=signed.actor.role,
        expires_at=signed.expires_at,
        csrf_token=opened.csrf_token,
    )


@router.post("/logout", status_code=204)
async def logout(actor: CurrentUser, request: Request, response: Response, db: DbDep) -> None:
    """End this session on the server (a bearer token stays valid: revoke it instead)."""
    await close_session(request, response, db, actor)


@router.get("/me", response_model=MeRead)
async def me(actor: CurrentUser) -> MeRead:
    return MeRead(**actor.model_dump())


@router.get("/tokens", response_model=list[TokenRead])
async def my_tokens(actor: CurrentUser, session: SessionDep) -> list[TokenRead]:
    user = await users.get_user(session, actor.login)
    return [TokenRead.model_validate(t) for t in await users.tokens_of(session, user)]


@router.post("/tokens", response_model=TokenCreated, status_code=201)
async def create_token(actor: CurrentUser, body: TokenCreate, db: DbDep) -> TokenCreated:
    """A new API token with your role; the token is in this answer only."""
    async with db.transaction() as session:
        user = await users.get_user(session, actor.login)
        try:
            row, token = await users.create_token(
                session=session, user=user, name=body.name, scope=body.scope
            )
        except users.AccessError as exc:
            raise access_refusal(exc) from None
        record(
            session, "token_created", actor=actor, token_id=row.id, name=row.name, scope=row.scope
        )
        read = TokenRead.model_validate(row)
    return TokenCreated(**read.model_dump(), token=token)


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    responses={404: {"model": None, "description": "no such token of yours"}},
)
async def revoke_token(actor: CurrentUser, token_id: TokenId, db: DbDep) -> None:
    async with db.transaction() as session:
        try:
            await users.revoke_token(session=session, token_id=token_id, owner_id=actor.user_id)
        except users.AccessError as exc:
            raise HTTPException(404, str(exc)) from None
        record(session, "token_revoked", actor=actor, token_id=token_id)
