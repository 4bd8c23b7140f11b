"""Scenarios over the API: check a scene as the editor does, create and change it (every save a
new version; a scene with errors gets every one with its line and column, and nothing is saved),
its versions, its cast, archiving it and a simulated timeline. The same services as the panel
(``admin.setup.scenarios``, ``admin.reads.scenarios``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from admin.access.deps import Admin, Viewer
from admin.api.deps import DbDep, SessionDep
from admin.api.fields import DB_INT_MAX, JsonInt, OneLine
from admin.api.schemas import Timestamp
from admin.reads.scenarios import ScenarioRow, scenario_rows, versions
from admin.setup.keyword_sets import SetupError
from admin.setup.scenarios import (
    SceneInvalid,
    archive_scenario,
    check_source,
    create_scenario,
    scenario_of,
    set_cast,
    simulate_scenario,
    update_source,
    version_of,
)
from core.settings import Settings
from scripts.scenario import ScenarioError, Timeline

router = APIRouter(prefix="/scenarios", tags=["scenes"])
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
Version = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
MAX_SOURCE = 80_000  # characters; the language refuses more than 64 KiB itself, with a reason
Source = Annotated[str, Field(max_length=MAX_SOURCE, description="the scene's text")]
RoleName = Annotated[str, Field(max_length=32)]
Cast = dict[RoleName, Annotated[JsonInt, Field(ge=1, le=DB_INT_MAX)] | None]
REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such scenario, version or chat"},
    409: {"description": "the name is taken, or a run of the scenario is not over"},
    422: {
        "description": "the scene's errors (each with line, column and message), or a cast "
        "naming an account that does not exist, is not a scripts account or plays two roles"
    },
}


class CheckWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Source


class ScenarioCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: OneLine = Field(min_length=1, max_length=64)
    source: Source
    cast: Cast = Field(default_factory=dict, description="role → account id (scripts accounts)")


class ScenarioUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Source


class SimulateWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: JsonInt = Field(0, ge=0, le=2**53 - 1, description="the same seed, the same timeline")
    cast: Cast = Field(default_factory=dict, description="over the scenario's cast")
    variables: dict[RoleName, Annotated[str, Field(max_length=1024)]] = Field(
        default_factory=dict, description="over the chat's"
    )
    chat_id: JsonInt | None = Field(
        None, ge=1, le=DB_INT_MAX, description="use its variables and the variants it has seen"
    )


class ErrorAt(BaseModel):
    line: int
    column: int
    message: str


class CheckRead(BaseModel):
    ok: bool
    errors: list[ErrorAt] = Field(description="every error, sorted by place")
    roles: list[str]
    variables: dict[str, str | None] = Field(description="name → default (null: none)")
    keyword_sets: list[str]
    campaigns: list[str]


class CastRead(BaseModel):
    account_id: int
    account: str


class LastRunRead(BaseModel):
    id: int
    status: str
    at: Timestamp


class ScenarioSummary(BaseModel):
    id: int
    name: str
    title: str | None
    status: str = Field(description="active or archived")
    version: int
    roles: list[str]
    cast: dict[str, CastRead]
    roles_without_account: list[str]
    runs: int
    last_run: LastRunRead | None
    updated_at: Timestamp
    updated_by: str | None


class ScenarioRead(ScenarioSummary):
    source: str


class VersionRead(BaseModel):
    version: int
    source: str
    created_by: str | None
    created_at: Timestamp


class EntryRead(BaseModel):
    at: float = Field(description="seconds from the start")
    kind: str = Field(description="say, wait, listen, heard, silent, lead or stop")
    line: int
    role: str | None
    account: str | None
    text: str | None
    typing: float | None
    detail: str


class TimelineRead(BaseModel):
    seed: int
    entries: list[EntryRead]
    problems: list[str]
    duration: float


def error_items(errors: list[ScenarioError]) -> list[dict[str, Any]]:
    """The API's 422 shape (field, reason) with the scene's place kept apart for editors."""
    return [
        {
            "field": "source",
            "reason": f"line {e.line}, column {e.column}: {e.message}",
            "line": e.line,
            "column": e.column,
            "message": e.message,
        }
        for e in errors
    ]


def refusal(refused: SetupError) -> HTTPException:
    if isinstance(refused, SceneInvalid):
        return HTTPException(422, error_items(refused.errors))
    if refused.missing:
        return HTTPException(404, str(refused))
    if refused.field is not None and "already exists" not in str(refused):
        return HTTPException(422, [{"field": refused.field, "reason": str(refused)}])
    return HTTPException(409, str(refused))


def _summary(row: ScenarioRow) -> dict[str, Any]:
    s = row.scenario
    last = row.last_run
    return {
        "id": s.id,
        "name": s.name,
        "title": s.title,
        "status": s.status,
        "version": s.version,
        "roles": list(s.roles),
        "cast": {r: CastRead(account_id=a, account=n) for r, (a, n) in row.cast.items()},
        "roles_without_account": row.uncast,
        "runs": row.runs,
        "last_run": LastRunRead(id=last.id, status=last.status, at=last.at) if last else None,
        "updated_at": s.updated_at,
        "updated_by": s.updated_by,
    }


async def _read(session: AsyncSession, scenario_id: int) -> ScenarioRead:
    rows = await scenario_rows(session, ids=[scenario_id])
    if not rows:
        raise HTTPException(404, f"scenario {scenario_id} does not exist")
    return ScenarioRead(**_summary(rows[0]), source=rows[0].scenario.source)


@router.post("/check", response_model=CheckRead)
async def check(_: Viewer, body: CheckWrite, session: SessionDep) -> CheckRead:
    """Every error of the text with its line and column (keyword sets and campaigns it names
    included), and what the scene declares; nothing is saved."""
    checked = await check_source(session, body.source)
    scene = checked.scene
    return CheckRead(
        ok=checked.ok,
        errors=[ErrorAt(line=e.line, column=e.column, message=e.message) for e in checked.errors],
        roles=list(scene.roles) if scene else [],
        variables=dict(scene.variables) if scene else {},
        keyword_sets=list(scene.keyword_sets) if scene else [],
        campaigns=list(scene.campaigns) if scene else [],
    )


@router.get("", response_model=list[ScenarioSummary])
async def list_scenarios(
    _: Viewer, session: SessionDep, archived: bool = False
) -> list[ScenarioSummary]:
    """By name; archived ones only when asked."""
    return [ScenarioSummary(**_summary(r)) for r in await scenario_rows(session, archived=archived)]


@router.post("", response_model=ScenarioRead, status_code=201, responses=REFUSALS)
async def create(actor: Admin, body: ScenarioCreate, db: DbDep) -> ScenarioRead:
    try:
        async with db.transaction() as session:
            made = await create_scenario(
                session, actor, name=body.name, source=body.source, cast=body.cast
            )
            made_id = made.id
    except SetupError as refused:
        raise refusal(refused) from None
    async with db.session() as session:
        return await _read(session, made_id)


@router.get("/{scenario_id:int}", response_model=ScenarioRead, responses=REFUSALS)
async def read(_: Viewer, scenario_id: Id, session: SessionDep) -> ScenarioRead:
    return await _read(session, scenario_id)


@router.put("/{scenario_id:int}", response_model=ScenarioRead, responses=REFUSALS)
async def change(actor: Admin, scenario_id: Id, body: ScenarioUpdate, db: DbDep) -> ScenarioRead:
    """A new version; runs already made keep playing the version they started with."""
    try:
        async with db.transaction() as session:
            await update_source(session, actor, scenario_id, body.source)
    except SetupError as refused:
        raise refusal(refused) from None
    async with db.session() as session:
        return await _read(session, scenario_id)


@router.get("/{scenario_id:int}/versions", response_model=list[VersionRead], responses=REFUSALS)
async def list_versions(_: Viewer, scenario_id: Id, session: SessionDep) -> list[VersionRead]:
    """Newest first."""
    try:
        await scenario_of(session, scenario_id)
    except SetupError as refused:
        raise refusal(refused) from None
    return [
        VersionRead.model_validate(v, from_attributes=True)
        for v in await versions(session, scenario_id)
    ]


@router.get("/{scenario_id:int}/versions/{version}", response_model=VersionRead, responses=REFUSALS)
async def one_version(
    _: Viewer, scenario_id: Id, version: Version, session: SessionDep
) -> VersionRead:
    try:
        found = await version_of(session, scenario_id, version)
    except SetupError as refused:
        raise refusal(refused) from None
    return VersionRead.model_validate(found, from_attributes=True)


@router.put("/{scenario_id:int}/cast", response_model=ScenarioRead, responses=REFUSALS)
async def cast(
    actor: Admin,
    scenario_id: Id,
    db: DbDep,
    body: Annotated[Cast, Body(description="the whole cast: role → account id, or null")],
) -> ScenarioRead:
    try:
        async with db.transaction() as session:
            await set_cast(session, actor, scenario_id, body)
    except SetupError as refused:
        raise refusal(refused) from None
    async with db.session() as session:
        return await _read(session, scenario_id)


@router.delete("/{scenario_id:int}", status_code=204, responses=REFUSALS)
async def archive(actor: Admin, scenario_id: Id, db: DbDep) -> None:
    """Archive it (its runs and versions stay); refused while one of its runs is not over."""
    try:
        async with db.transaction() as session:
            await archive_scenario(session, actor, scenario_id)
    except SetupError as refused:
        raise refusal(refused) from None


@router.post("/{scenario_id:int}/simulate", response_model=TimelineRead, responses=REFUSALS)
async def simulated(
    _: Viewer, request: Request, scenario_id: Id, body: SimulateWrite, session: SessionDep
) -> TimelineRead:
    """One concrete timeline of the current version — which variant, which pause, which
    account — and its problems (a role without an account, a variable without a value, an
    account over the scene budget). Nothing is sent."""
    settings: Settings = request.app.state.settings
    try:
        scenario = await scenario_of(session, scenario_id)
        timeline = await simulate_scenario(
            session,
            scenario,
            settings,
            seed=body.seed,
            cast=body.cast,
            variables=body.variables,
            chat_id=body.chat_id,
        )
    except SetupError as refused:
        raise refusal(refused) from None
    return timeline_read(body.seed, timeline)


def timeline_read(seed: int, timeline: Timeline) -> TimelineRead:
    entries = [EntryRead.model_validate(e, from_attributes=True) for e in timeline.entries]
    return TimelineRead(
        seed=seed, entries=entries, problems=list(timeline.problems), duration=timeline.duration
    )
