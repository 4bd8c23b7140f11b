"""Chats: the list (search, pages) with the parser account holding each, the campaigns reading
it and its last seven days; each parser account's load against Telegram's chat cap; a form to
add one by link or @username (errors next to the field, what was typed kept), renaming, and
deleting one no campaign reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response

from admin.access.deps import Admin, Viewer
from admin.api.fields import DB_INT_MAX
from admin.pages.errors import page_error
from admin.pages.rendering import go, render
from admin.pages.viewers import viewer_for
from admin.reads.chats import ChatRow, chat_page, describe, holder_loads
from admin.reads.paging import PAGE_SIZE
from admin.setup.chats import delete_chat, parse_chat, save_chat
from admin.setup.keyword_sets import SetupError
from core.access import Actor
from core.db import Database
from core.db.models import Chat

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
Search = Annotated[str, Query(max_length=200)]
Offset = Annotated[int, Query(ge=0, le=DB_INT_MAX)]
Ref = Annotated[str, Form(max_length=300)]
Title = Annotated[str, Form(max_length=300)]
Own = Annotated[str, Form(max_length=10)]  # a checkbox: present when ticked
Vars = Annotated[str, Form(max_length=60_000)]  # "name = value" lines


async def _page(
    request: Request,
    actor: Actor,
    *,
    q: str = "",
    offset: int = 0,
    selected: ChatRow | None = None,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        page = await chat_page(session, q, offset)
        loads = await holder_loads(session)
    if typed is None and selected is not None:
        chat = selected.chat
        typed = {
            "ref": chat.ref,
            "title": chat.title or "",
            "own": "1" if chat.own else "",
            "vars": "\n".join(f"{k} = {v}" for k, v in (chat.scene_vars or {}).items()),
        }
    context = {
        "page": page,
        "page_size": PAGE_SIZE,
        "loads": loads,
        "selected": selected,
        "typed": typed or {"ref": "", "title": "", "own": "", "vars": ""},
        "errors": errors or {},
    }
    return render(request, viewer, "chats/page.html", context, status=status)


async def _row(db: Database, chat_id: int | None) -> ChatRow | None:
    if chat_id is None:
        return None
    async with db.session() as session:
        chat = await session.get(Chat, chat_id)
        return (await describe(session, [chat]))[0] if chat is not None else None


@router.get("/chats")
async def listing(actor: Viewer, request: Request, q: Search = "", offset: Offset = 0) -> Response:
    return await _page(request, actor, q=q, offset=offset)


@router.get("/chats/{chat_id}")
async def one(actor: Viewer, request: Request, chat_id: Id) -> Response:
    selected = await _row(request.app.state.db, chat_id)
    if selected is None:
        return page_error(request, 404, f"chat {chat_id} does not exist")
    return await _page(request, actor, selected=selected)


@router.post("/chats")
async def add(
    actor: Admin, request: Request, ref: Ref = "", title: Title = "", own: Own = "", vars: Vars = ""
) -> Response:
    typed = {"ref": ref, "title": title, "own": own, "vars": vars}
    return await _save(request, actor, None, typed)


@router.post("/chats/{chat_id}")
async def update(
    actor: Admin,
    request: Request,
    chat_id: Id,
    ref: Ref = "",
    title: Title = "",
    own: Own = "",
    vars: Vars = "",
) -> Response:
    typed = {"ref": ref, "title": title, "own": own, "vars": vars}
    return await _save(request, actor, chat_id, typed)


def scene_variables(text: str) -> dict[str, str]:
    """ "name = value" lines (blank lines skipped); ``SetupError`` naming the line otherwise."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, equals, value = line.partition("=")
        if not equals or not name.strip():
            raise SetupError(f"line {number}: write name = value", field="vars")
        found[name.strip()] = value.strip()
    return found


async def _save(
    request: Request, actor: Actor, chat_id: int | None, typed: dict[str, str]
) -> Response:
    db: Database = request.app.state.db
    ref, title = typed["ref"], typed["title"]
    try:
        variables = scene_variables(typed["vars"])
        spec = parse_chat(ref, title, own=bool(typed["own"]), variables=variables)
        async with db.transaction() as session:
            saved = await save_chat(session, actor, spec, chat_id=chat_id)
            saved_id = saved.id
    except SetupError as refused:
        if refused.missing:
            return page_error(request, 404, str(refused))
        selected = await _row(db, chat_id)
        errors = {refused.field or "ref": str(refused)}
        return await _page(
            request, actor, selected=selected, typed=typed, errors=errors, status=422
        )
    return go(request, f"/chats/{saved_id}" if chat_id else "/chats")


@router.post("/chats/{chat_id}/delete")
async def remove(actor: Admin, request: Request, chat_id: Id) -> Response:
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            await delete_chat(session, actor, chat_id)
    except SetupError as refused:
        if refused.missing:
            return page_error(request, 404, str(refused))
        selected = await _row(db, chat_id)
        return await _page(
            request, actor, selected=selected, errors={"delete": str(refused)}, status=409
        )
    return go(request, "/chats")
