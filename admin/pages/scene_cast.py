"""A scene's cast: each role with a choice of the scripts accounts (which roles still lack one);
one account plays one role, and the refusal is shown next to the role, nothing written."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from admin.access.deps import Admin, Viewer
from admin.api.fields import DB_INT_MAX
from admin.pages.errors import page_error
from admin.pages.rendering import go, render
from admin.pages.viewers import viewer_for
from admin.reads.scenarios import scenario_rows, scripts_accounts
from admin.setup.keyword_sets import SetupError
from admin.setup.scenarios import set_cast
from core.access import Actor
from core.db import Database

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
FIELD = "role."  # the form names a role's choice role.<name>


@router.get("/scenes/{scenario_id}/cast")
async def page(actor: Viewer, request: Request, scenario_id: Id) -> Response:
    return await _page(request, actor, scenario_id)


async def _page(
    request: Request,
    actor: Actor,
    scenario_id: int,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        rows = await scenario_rows(session, ids=[scenario_id])
        if not rows:
            return page_error(request, 404, f"scenario {scenario_id} does not exist")
        accounts = await scripts_accounts(session)
    row = rows[0]
    if typed is None:
        typed = {role: str(account_id) for role, (account_id, _) in row.cast.items()}
    context = {"row": row, "accounts": accounts, "typed": typed, "errors": errors or {}}
    return render(request, viewer, "scenarios/cast.html", context, status=status)


@router.post("/scenes/{scenario_id}/cast")
async def save(actor: Admin, request: Request, scenario_id: Id) -> Response:
    form = await request.form()
    typed = {
        str(key).removeprefix(FIELD): str(value).strip()
        for key, value in form.multi_items()
        if str(key).startswith(FIELD) and isinstance(value, str)
    }
    cast: dict[str, int | None] = {}
    for role, raw in typed.items():
        if raw and not (raw.isdigit() and int(raw) <= DB_INT_MAX):
            return await _page(
                request,
                actor,
                scenario_id,
                typed=typed,
                errors={role: f"{raw!r} is not an account"},
                status=422,
            )
        cast[role] = int(raw) if raw else None
    db: Database = request.app.state.db
    try:
        async with db.transaction() as session:
            await set_cast(session, actor, scenario_id, cast)
    except SetupError as refused:
        if refused.missing:
            return page_error(request, 404, str(refused))
        role = (refused.field or "").removeprefix("cast.")
        return await _page(
            request, actor, scenario_id, typed=typed, errors={role: str(refused)}, status=422
        )
    return go(request, f"/scenes/{scenario_id}/cast")
