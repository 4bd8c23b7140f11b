"""Chats over the API: the same service functions and rules as the panel and the workspace file
(``admin.setup.chats``), and the parser accounts' load against Telegram's chat cap."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from admin.access.deps import Admin, Viewer
from admin.api.deps import DbDep, SessionDep
from admin.api.fields import DB_INT_MAX
from admin.reads.chats import ChatRow, describe, holder_loads
from admin.setup.chats import delete_chat, parse_chat, save_chat
from admin.setup.keyword_sets import SetupError
from core.access import Actor
from core.db import Database
from core.db.models import Chat

router = APIRouter(tags=["configuration"])
chats_router = APIRouter(prefix="/chats")
load_router = APIRouter()  # not under /chats: PUT /chats/load would read "load" as a chat id
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such chat"},
    409: {"description": "the chat is already in the list, or a campaign reads it"},
    422: {"description": "not a t.me link or an @username"},
}


class ChatWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: str = Field(
        min_length=1,
        max_length=300,
        description="@username, t.me/name, t.me/+invite or a message link",
    )
    title: str | None = Field(None, max_length=255, description="a name people recognise")
    own: bool | None = Field(
        None, description="the operator's own community: scenes may play here; absent: kept"
    )
    vars: dict[str, str] | None = Field(
        None, description="values of scenes' {variables} in this chat; absent: kept"
    )


class CampaignUse(BaseModel):
    id: int
    name: str
    status: str


class ChatRead(BaseModel):
    id: int
    ref: str = Field(description="the canonical form: @name or https://t.me/+hash")
    title: str | None
    telegram_chat_id: int | None
    listener_account_id: int | None = Field(description="the parser account holding the chat")
    listener_account: str | None
    campaigns: list[CampaignUse]
    messages_7d: int = Field(description="messages the parser read in the last 7 days")
    matched_7d: int = Field(description="of them, messages that matched a keyword set")
    own: bool = Field(description="the operator's own community: scenes may play here")
    vars: dict[str, str] = Field(description="values of scenes' {variables} in this chat")


class AccountLoadRead(BaseModel):
    id: int
    name: str
    status: str
    chats: int
    cap: int = Field(description="Telegram's limit on chats one account is in")


def _read(row: ChatRow) -> ChatRead:
    return ChatRead(
        id=row.chat.id,
        ref=row.chat.ref,
        title=row.chat.title,
        telegram_chat_id=row.chat.telegram_chat_id,
        listener_account_id=row.holder_id,
        listener_account=row.holder,
        campaigns=[CampaignUse(id=i, name=n, status=s) for i, n, s in row.campaigns],
        messages_7d=row.messages,
        matched_7d=row.matched,
        own=row.chat.own,
        vars={str(k): str(v) for k, v in (row.chat.scene_vars or {}).items()},
    )


def _refusal(refused: SetupError) -> HTTPException:
    if refused.missing:
        return HTTPException(404, str(refused))
    if refused.field is not None and "already" not in str(refused):
        return HTTPException(422, [{"field": refused.field, "reason": str(refused)}])
    return HTTPException(409, str(refused))


@chats_router.get("", response_model=list[ChatRead])
async def list_chats(_: Viewer, session: SessionDep) -> list[ChatRead]:
    chats = list(await session.scalars(select(Chat).order_by(Chat.id)))
    return [_read(row) for row in await describe(session, chats)]


@load_router.get("/chat-load", response_model=list[AccountLoadRead])
async def account_load(_: Viewer, session: SessionDep) -> list[AccountLoadRead]:
    """Each parser account's chats against the cap, the busiest first."""
    return [
        AccountLoadRead(id=a.id, name=a.name, status=a.status, chats=a.chats, cap=a.cap)
        for a in await holder_loads(session)
    ]


@chats_router.post("", response_model=ChatRead, status_code=201, responses=REFUSALS)
async def add_chat(actor: Admin, body: ChatWrite, db: DbDep) -> ChatRead:
    return await _save(actor, body, db, None)


@chats_router.put("/{chat_id}", response_model=ChatRead, responses=REFUSALS)
async def update_chat(actor: Admin, chat_id: Id, body: ChatWrite, db: DbDep) -> ChatRead:
    return await _save(actor, body, db, chat_id)


async def _save(actor: Actor, body: ChatWrite, db: Database, chat_id: int | None) -> ChatRead:
    try:
        async with db.transaction() as session:
            current = await session.get(Chat, chat_id) if chat_id is not None else None
            own = body.own if body.own is not None else bool(current and current.own)
            variables = body.vars
            if variables is None:  # kept as it is
                kept = (current.scene_vars if current else None) or {}
                variables = {str(k): str(v) for k, v in kept.items()}
            spec = parse_chat(body.ref, body.title, own=own, variables=variables)
            saved = await save_chat(session, actor, spec, chat_id=chat_id)
            [row] = await describe(session, [saved])
            return _read(row)
    except SetupError as refused:
        raise _refusal(refused) from None


@chats_router.delete("/{chat_id}", status_code=204, responses=REFUSALS)
async def remove_chat(actor: Admin, chat_id: Id, db: DbDep) -> None:
    """Refused (409, naming them) while a campaign reads the chat."""
    try:
        async with db.transaction() as session:
            await delete_chat(session, actor, chat_id)
    except SetupError as refused:
        raise _refusal(refused) from None


router.include_router(chats_router)
router.include_router(load_router)
