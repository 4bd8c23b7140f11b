"""Keyword sets over the API: the same service functions and rules as the panel and the
workspace file (``admin.setup.keyword_sets``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field

from admin.access.deps import Admin, Viewer
from admin.api.deps import DbDep, SessionDep
from admin.api.fields import DB_INT_MAX, KeywordText, Name
from admin.setup.keyword_sets import SetupError, delete_set, keyword_sets, parse_set, save_set

router = APIRouter(prefix="/keyword-sets", tags=["configuration"])
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such keyword set"},
    409: {"description": "the name is taken, or a campaign uses the set"},
    422: {"description": "a keyword that can never match (only a link or an @mention), by line"},
}


class KeywordSetWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(max_length=64)
    keywords: list[KeywordText] = Field(
        min_length=1, max_length=5000, description="words or phrases, matched by stem"
    )
    exclude: list[KeywordText] = Field(
        [], max_length=5000, description="any of them vetoes the set"
    )


class KeywordSetRead(BaseModel):
    id: int
    name: str
    keywords: list[str]
    exclude: list[str]
    campaigns: list[str] = Field(description="the campaigns that use it")


def _refusal(refused: SetupError) -> HTTPException:
    if refused.missing:
        return HTTPException(404, str(refused))
    if refused.field is not None and "taken" not in str(refused):
        return HTTPException(422, [{"field": refused.field, "reason": str(refused)}])
    return HTTPException(409, str(refused))


@router.get("", response_model=list[KeywordSetRead])
async def list_sets(_: Viewer, session: SessionDep) -> list[KeywordSetRead]:
    return [
        KeywordSetRead(
            id=item.keyword_set.id,
            name=item.keyword_set.name,
            keywords=list(item.keyword_set.keywords),
            exclude=list(item.keyword_set.exclude),
            campaigns=item.campaigns,
        )
        for item in await keyword_sets(session)
    ]


@router.post("", response_model=KeywordSetRead, status_code=201, responses=REFUSALS)
async def create_set(actor: Admin, body: KeywordSetWrite, db: DbDep) -> KeywordSetRead:
    return await _save(actor, body, db, None)


@router.put("/{set_id}", response_model=KeywordSetRead, responses=REFUSALS)
async def update_set(actor: Admin, set_id: Id, body: KeywordSetWrite, db: DbDep) -> KeywordSetRead:
    return await _save(actor, body, db, set_id)


async def _save(actor: Any, body: KeywordSetWrite, db: Any, set_id: int | None) -> KeywordSetRead:
    try:
        spec = parse_set(body.name, body.keywords, body.exclude)
        async with db.transaction() as session:
            saved = await save_set(session, actor, spec, set_id=set_id)
            sets = {item.keyword_set.id: item.campaigns for item in await keyword_sets(session)}
            return KeywordSetRead(
                id=saved.id,
                name=saved.name,
                keywords=list(saved.keywords),
                exclude=list(saved.exclude),
                campaigns=sets.get(saved.id, []),
            )
    except SetupError as refused:
        raise _refusal(refused) from None


@router.delete("/{set_id}", status_code=204, responses=REFUSALS)
async def remove_set(actor: Admin, set_id: Id, db: DbDep) -> None:
    """Refused (409, naming them) while a campaign uses the set."""
    try:
        async with db.transaction() as session:
            await delete_set(session, actor, set_id)
    except SetupError as refused:
        raise _refusal(refused) from None
