"""Keyword sets: the list with the campaigns using each, a form to add or edit one (one keyword or
phrase per line; the workspace file's rules, errors next to the field, nothing written on a
refusal), deleting one no campaign uses, and the live "try it" box."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response

from admin.access.deps import Admin, Viewer
from admin.api.fields import DB_INT_MAX
from admin.pages.errors import page_error
from admin.pages.rendering import go, render
from admin.pages.viewers import viewer_for
from admin.setup.keyword_sets import (
    SetupError,
    delete_set,
    keyword_sets,
    parse_set,
    save_set,
    try_sample,
    try_text,
)
from core.access import Actor
from core.db import Database
from core.db.models import KeywordSet

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
Lines = Annotated[str, Form(max_length=20_000)]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


async def _page(
    request: Request,
    actor: Actor,
    *,
    selected: KeywordSet | None = None,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        sets = await keyword_sets(session)
    if typed is None and selected is not None:
        typed = {
            "name": selected.name,
            "keywords": "\n".join(selected.keywords),
            "exclude": "\n".join(selected.exclude),
        }
    context = {
        "sets": sets,
        "selected": selected,
        "typed": typed or {"name": "", "keywords": "", "exclude": ""},
        "errors": errors or {},
    }
    return render(request, viewer, "keyword_sets/page.html", context, status=status)


@router.get("/keyword-sets")
async def listing(actor: Viewer, request: Request) -> Response:
    return await _page(request, actor)


@router.get("/keyword-sets/try")
async def trial(
    actor: Viewer,
    request: Request,
    text: Annotated[str, Query(max_length=4096)] = "",
    keywords: Annotated[str, Query(max_length=20_000)] = "",
    exclude: Annotated[str, Query(max_length=20_000)] = "",
) -> Response:
    """What the parser would decide for ``text`` with the keywords as typed (not yet saved), and
    how many of the recently sampled chat messages they would have matched."""
    viewer = await viewer_for(request, actor)
    try:
        spec = parse_set("trial", _lines(keywords), _lines(exclude))
    except SetupError as refused:
        return render(request, viewer, "keyword_sets/_try.html", {"problem": str(refused)})
    db: Database = request.app.state.db
    async with db.session() as session:
        sample = await try_sample(session, spec)
    context = {
        "trial": try_text(spec, text) if text.strip() else None,
        "sample": sample,
        "problem": "",
    }
    return render(request, viewer, "keyword_sets/_try.html", context)


@router.get("/keyword-sets/{set_id}")
async def one(actor: Viewer, request: Request, set_id: Id) -> Response:
    db: Database = request.app.state.db
    async with db.session() as session:
        found = await session.get(KeywordSet, set_id)
    if found is None:
        return page_error(request, 404, f"keyword set {set_id} does not exist")
    return await _page(request, actor, selected=found)


@router.post("/keyword-sets")
async def create(
    actor: Admin,
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    keywords: Lines = "",
    exclude: Lines = "",
) -> Response:
    return await _save(request, actor, None, name, keywords, exclude)


@router.post("/keyword-sets/{set_id}")
async def update(
    actor: Admin,
    request: Request,
    set_id: Id,
    name: Annotated[str, Form(max_length=200)] = "",
    keywords: Lines = "",
    exclude: Lines = "",
) -> Response:
    return await _save(request, actor, set_id, name, keywords, exclude)


async def _save(
    request: Request, actor: Actor, set_id: int | None, name: str, keywords: str, exclude: str
) -> Response:
    typed = {"name": name, "keywords": keywords, "exclude": exclude}
    db: Database = request.app.state.db
    try:
        spec = parse_set(name, _lines(keywords), _lines(exclude))
        async with db.transaction() as session:
            saved = await save_set(session, actor, spec, set_id=set_id)
            saved_id = saved.id
    except SetupError as refused:
        if refused.missing:
            return page_error(request, 404, str(refused))
        async with db.session() as session:
            selected = await session.get(KeywordSet, set_id) if set_id else None
        errors = {refused.field or "name": str(refused)}
        return await _page(
            request, actor, selected=selected, typed=typed, errors=errors, status=422
        )
    return go(request, f"/keyword-sets/{saved_id}")


@router.post("/keyword-sets/{set_id}/delete")
async def remove(actor: Admin, request: Request, set_id: Id) -> Response:
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            await delete_set(session, actor, set_id)
    except SetupError as refused:
        if refused.missing:
            return page_error(request, 404, str(refused))
        async with db.session() as session:
            selected = await session.get(KeywordSet, set_id)
        return await _page(
            request, actor, selected=selected, errors={"delete": str(refused)}, status=409
        )
    return go(request, "/keyword-sets")
