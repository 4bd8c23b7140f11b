"""Starting a run of a scene: one of the operator's own chats (only those are offered, and the
page says why), the scene's variables prefilled from the chat's, when (now, at a time, or N runs
spread over a window) and an optional seed. The scripts service decides; its reasons for a
refusal are shown as the form's errors, and nothing was started."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from admin.access.deps import Operator
from admin.api.fields import DB_INT_MAX
from admin.api.runs import command
from admin.pages.errors import page_error
from admin.pages.rendering import Viewer, go, render
from admin.pages.viewers import viewer_for
from admin.reads.scenarios import own_chats, scenario_rows
from core.access import Actor
from core.bus import Bus
from core.db import Database
from core.scene_commands import MAX_RUNS_PER_COMMAND
from scripts.scenario import check_scene

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
Picked = Annotated[str, Query(max_length=20)]
VAR = "var."  # the form names a variable's field var.<name>
MAX_WINDOW_MINUTES = 7 * 24 * 60


class Refused(ValueError):
    """A field the operator must fix; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


@dataclass
class StartForm:
    chat: str = ""
    when: str = "now"  # now, at, spread
    at: str = ""  # datetime-local, in the viewer's time zone
    runs: str = "2"
    window: str = "60"
    seed: str = ""
    variables: dict[str, str] = field(default_factory=dict)

    def command_fields(self, viewer: Viewer) -> dict[str, Any]:
        """The start command's fields; ``Refused`` naming the field at fault."""
        chat = _whole(self.chat, "chat", "choose one of your own chats", low=1)
        fields: dict[str, Any] = {
            "chat_id": chat,
            "variables": {k: v for k, v in self.variables.items() if v.strip()},
        }
        if self.seed.strip():
            fields["seed"] = _whole(self.seed, "seed", "a seed is a whole number, 0 or more")
        if self.when in ("at", "spread") and self.at.strip():
            fields["start_at"] = _local_time(self.at, viewer)
        elif self.when == "at":
            raise Refused("at", "give the date and time to start at")
        if self.when == "spread":
            fields["runs"] = _whole(
                self.runs,
                "runs",
                f"from 1 to {MAX_RUNS_PER_COMMAND} runs",
                low=1,
                high=MAX_RUNS_PER_COMMAND,
            )
            fields["window_minutes"] = _whole(
                self.window,
                "window",
                f"from 0 to {MAX_WINDOW_MINUTES} minutes",
                high=MAX_WINDOW_MINUTES,
            )
        return fields


def _whole(raw: str, name: str, reason: str, *, low: int = 0, high: int = 2**53 - 1) -> int:
    raw = raw.strip()
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise Refused(name, reason)
    return int(raw)


def _local_time(raw: str, viewer: Viewer) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise Refused("at", f"{raw!r} is not a date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=viewer.zone)
    return moment


@router.get("/scenes/{scenario_id}/start")
async def form(actor: Operator, request: Request, scenario_id: Id, chat: Picked = "") -> Response:
    return await _page(request, actor, scenario_id, StartForm(chat=chat), prefill=True)


@router.post("/scenes/{scenario_id}/start")
async def start(actor: Operator, request: Request, scenario_id: Id) -> Response:
    raw = await request.form()
    typed = StartForm(
        **{k: str(raw.get(k, "")) for k in ("chat", "when", "at", "runs", "window", "seed")},
        variables={
            str(k).removeprefix(VAR): str(v)
            for k, v in raw.multi_items()
            if str(k).startswith(VAR) and isinstance(v, str)
        },
    )
    viewer = await viewer_for(request, actor)
    try:
        fields = typed.command_fields(viewer)
    except Refused as refused:
        errors = {refused.field: str(refused)}
        return await _page(request, actor, scenario_id, typed, errors=errors, status=422)
    bus: Bus = request.app.state.bus
    result = await command(bus, "start", actor, scenario_id=scenario_id, **fields)
    if result.outcome != "done":
        problems = result.problems or [result.detail]
        errors = {"command": result.detail if result.problems else ""}
        status = {"missing": 404, "conflict": 409, "unavailable": 503}.get(result.outcome, 422)
        return await _page(
            request, actor, scenario_id, typed, errors=errors, problems=problems, status=status
        )
    target = (
        f"/runs/{result.run_ids[0]}"
        if len(result.run_ids) == 1
        else f"/runs?scenario={scenario_id}"
    )
    return go(request, target)


async def _page(
    request: Request,
    actor: Actor,
    scenario_id: int,
    typed: StartForm,
    *,
    prefill: bool = False,
    errors: dict[str, str] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        rows = await scenario_rows(session, ids=[scenario_id])
        if not rows:
            return page_error(request, 404, f"scenario {scenario_id} does not exist")
        chats = await own_chats(session)
    scene, _ = check_scene(rows[0].scenario.source)
    declared = dict(scene.variables) if scene is not None else {}
    if not typed.chat and chats:
        typed.chat = str(chats[0].id)
    chosen = next((c for c in chats if str(c.id) == typed.chat), None)
    chat_values = {str(k): str(v) for k, v in ((chosen.scene_vars or {}) if chosen else {}).items()}
    if prefill:
        typed.variables = {name: chat_values.get(name, "") for name in declared}
    context = {
        "row": rows[0],
        "chats": chats,
        "typed": typed,
        "declared": declared,
        "chat_values": chat_values,
        "errors": errors or {},
        "problems": problems or [],
        "max_runs": MAX_RUNS_PER_COMMAND,
        "soon": (datetime.now(viewer.zone) + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M"),
    }
    return render(request, viewer, "runs/start.html", context, status=status)
