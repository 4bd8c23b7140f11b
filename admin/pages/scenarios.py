"""Scenes: the list, and a scene's page — the editor (errors at their lines as you type, through
``/scenes/check``; saving makes a new version, a scene with errors keeps the typed text and saves
nothing), its versions (open one to bring it back), a simulated timeline, and archiving. The
cast page and starting a run live in ``admin.pages.scene_cast`` and ``admin.pages.runs``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from admin.access.deps import Admin, Viewer
from admin.api.fields import DB_INT_MAX
from admin.pages.errors import page_error
from admin.pages.rendering import go, render
from admin.pages.viewers import viewer_for
from admin.reads.scenarios import own_chats, scenario_rows, versions
from admin.setup.keyword_sets import SetupError
from admin.setup.scenarios import (
    Checked,
    SceneInvalid,
    archive_scenario,
    check_source,
    create_scenario,
    simulate_scenario,
    update_source,
    version_of,
)
from core.access import Actor
from core.db import Database
from core.settings import Settings
from scripts.scenario import ScenarioError, Timeline

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
SourceField = Annotated[str, Form(max_length=80_000)]
NameField = Annotated[str, Form(max_length=200)]
Picked = Annotated[str, Query(max_length=20)]  # numbers, checked below
EXAMPLE = """\
title: Welcome
roles: host, guest
vars: product = CoolThing

host: {Hi|Hello} everyone, welcome to {product}!
wait 20-40s
guest: Thanks! What's the best way to start?
"""


@router.get("/scenes")
async def listing(actor: Viewer, request: Request) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        rows = await scenario_rows(session)
    return render(request, viewer, "scenarios/list.html", {"rows": rows})


@router.get("/scenes/new")
async def new(actor: Admin, request: Request) -> Response:
    return await _editor(request, actor, None, typed={"name": "", "source": EXAMPLE})


@router.post("/scenes")
async def create(
    actor: Admin, request: Request, name: NameField = "", source: SourceField = ""
) -> Response:
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            made = await create_scenario(session, actor, name=name, source=source)
            made_id = made.id
    except SetupError as refused:
        typed = {"name": name, "source": source}
        return await _refused(request, actor, None, typed, refused)
    return go(request, f"/scenes/{made_id}")


@router.post("/scenes/check")
async def check(actor: Viewer, request: Request, source: SourceField = "") -> Response:
    """The errors list for the editor, as the admin types (a fragment)."""
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        checked = await check_source(session, source)
    return render(request, viewer, "scenarios/_errors.html", _checked(checked, source))


def _checked(checked: Checked, source: str) -> dict[str, Any]:
    scene = checked.scene
    return {
        "scene_errors": checked.errors,
        "scene": scene,
        "error_lines": _error_lines(checked.errors),
        "line_count": source.count("\n") + 1,
    }


def _error_lines(errors: list[ScenarioError]) -> dict[int, str]:
    """line → its errors in one tooltip, for the gutter markers."""
    lines: dict[int, str] = {}
    for e in errors:
        lines[e.line] = f"{lines[e.line]}\n{e.message}" if e.line in lines else e.message
    return lines


@router.get("/scenes/{scenario_id}")
async def page(
    actor: Viewer,
    request: Request,
    scenario_id: Id,
    version: Picked = "",
    seed: Picked = "",
    chat: Picked = "",
) -> Response:
    return await _editor(
        request, actor, scenario_id, wanted={"version": version, "seed": seed, "chat": chat}
    )


@router.post("/scenes/{scenario_id}")
async def save(
    actor: Admin, request: Request, scenario_id: Id, source: SourceField = ""
) -> Response:
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            await update_source(session, actor, scenario_id, source)
    except SetupError as refused:
        return await _refused(request, actor, scenario_id, {"source": source}, refused)
    return go(request, f"/scenes/{scenario_id}")


@router.post("/scenes/{scenario_id}/archive")
async def archive(actor: Admin, request: Request, scenario_id: Id) -> Response:
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            await archive_scenario(session, actor, scenario_id)
    except SetupError as refused:
        if refused.missing:
            return page_error(request, 404, str(refused))
        errors = {"archive": str(refused)}
        return await _editor(request, actor, scenario_id, errors=errors, status=409)
    return go(request, "/scenes")


async def _refused(
    request: Request,
    actor: Actor,
    scenario_id: int | None,
    typed: dict[str, str],
    refused: SetupError,
) -> Response:
    if refused.missing:
        return page_error(request, 404, str(refused))
    scene_errors = refused.errors if isinstance(refused, SceneInvalid) else []
    errors = {} if scene_errors else {refused.field or "source": str(refused)}
    status = 409 if "already exists" in str(refused) else 422
    return await _editor(
        request,
        actor,
        scenario_id,
        typed=typed,
        errors=errors,
        scene_errors=scene_errors,
        status=status,
    )


async def _editor(
    request: Request,
    actor: Actor,
    scenario_id: int | None,
    *,
    typed: dict[str, str] | None = None,
    wanted: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    scene_errors: list[ScenarioError] | None = None,
    status: int = 200,
) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    wanted = wanted or {}
    errors = dict(errors or {})
    context: dict[str, Any] = {"row": None, "versions": [], "timeline": None, "chats": []}
    async with db.session() as session:
        if scenario_id is not None:
            rows = await scenario_rows(session, ids=[scenario_id])
            if not rows:
                return page_error(request, 404, f"scenario {scenario_id} does not exist")
            context["row"] = rows[0]
            context["versions"] = await versions(session, scenario_id)
            context["chats"] = await own_chats(session)
            typed = typed or {"source": await _source(session, rows[0].scenario, wanted, errors)}
            context["timeline"] = await _simulated(
                request, session, rows[0].scenario, wanted, errors
            )
        typed = typed or {"name": "", "source": ""}
        checked = Checked(None, scene_errors or [])
        if not scene_errors:
            checked = await check_source(session, typed["source"])
    context.update(
        typed=typed,
        errors=errors,
        wanted=wanted,
        shown_version=_number(wanted.get("version", "")),
        **_checked(checked, typed["source"]),
    )
    return render(request, viewer, "scenarios/page.html", context, status=status)


def _number(raw: str) -> int | None:
    raw = raw.strip()
    return int(raw) if raw.isdigit() and int(raw) <= DB_INT_MAX else None


async def _source(
    session: AsyncSession, scenario: Any, wanted: dict[str, str], errors: dict[str, str]
) -> str:
    """The current text, or the version asked for (saving it brings it back)."""
    number = _number(wanted.get("version", ""))
    if number is None or number == scenario.version:
        return str(scenario.source)
    try:
        return (await version_of(session, scenario.id, number)).source
    except SetupError as missing:
        errors["version"] = str(missing)
        return str(scenario.source)


async def _simulated(
    request: Request,
    session: AsyncSession,
    scenario: Any,
    wanted: dict[str, str],
    errors: dict[str, str],
) -> Timeline | None:
    """The timeline for the seed asked for (none until one is)."""
    raw = wanted.get("seed", "").strip()
    if not raw:
        return None
    seed = _number(raw)
    if seed is None:
        errors["seed"] = f"{raw!r} is not a seed: a whole number, 0 or more"
        return None
    settings: Settings = request.app.state.settings
    try:
        return await simulate_scenario(
            session, scenario, settings, seed=seed, chat_id=_number(wanted.get("chat", ""))
        )
    except SetupError as refused:
        errors["simulate"] = str(refused)
        return None
