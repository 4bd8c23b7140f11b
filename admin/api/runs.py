"""Scene runs over the API. Starting, pausing, resuming and cancelling become one
``SceneCommand`` that the scripts service carries out (it alone writes runs); its refusal comes
back with every reason. Reading a run, its lines and its history reads the service's rows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from admin.access.deps import Operator, Viewer
from admin.api.deps import BusDep, PageDep, SessionDep
from admin.api.fields import DB_INT_MAX, JsonInt, RFC3339Time
from admin.api.schemas import Page, Timestamp
from admin.reads.runs import (
    STATUSES,
    HistoryItem,
    RunDetail,
    RunRow,
    run_detail,
    run_history,
    run_page,
)
from core.access import Actor
from core.bus import Bus, UnroutableError
from core.db.scene_models import SceneRun
from core.scene_commands import (
    MAX_RUNS_PER_COMMAND,
    SceneAction,
    SceneCommand,
    SceneResult,
    send_scene_command,
)

router = APIRouter(prefix="/runs", tags=["scenes"])
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
QueryId = Annotated[int | None, Query(ge=1, le=DB_INT_MAX)]
_STATUS = {"missing": 404, "conflict": 409, "unavailable": 503, "refused": 422}
REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such run, scenario or chat"},
    409: {"description": "the run's state does not allow it (already over, not paused, …)"},
    422: {
        "description": "refused by the scripts service, every reason a field error of `run` "
        "and also in `problems`, with `summary` (a chat that is not the operator's own, no "
        "free account, a variation used up, …)",
    },
    503: {"description": "the scripts service did not answer; nothing was done"},
}


class RunStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario_id: JsonInt = Field(ge=1, le=DB_INT_MAX)
    chat_id: JsonInt = Field(ge=1, le=DB_INT_MAX, description="a chat marked as the operator's own")
    cast: dict[
        Annotated[str, Field(max_length=32)], Annotated[JsonInt, Field(ge=1, le=DB_INT_MAX)]
    ] = Field(default_factory=dict, description="role → account id, over the scenario's cast")
    variables: dict[
        Annotated[str, Field(max_length=32)], Annotated[str, Field(max_length=1024)]
    ] = Field(default_factory=dict, description="over the chat's")
    start_at: RFC3339Time | None = Field(None, description="the first run at; now when absent")
    runs: JsonInt = Field(1, ge=1, le=MAX_RUNS_PER_COMMAND)
    window_minutes: float = Field(0.0, ge=0, le=7 * 24 * 60, description="spread runs over it")
    seed: JsonInt | None = Field(None, ge=0, le=2**53 - 1)


class StartedRead(BaseModel):
    run_ids: list[int]
    starts: list[Timestamp] = Field(description="when each run is due")


class ActionRead(BaseModel):
    outcome: str
    detail: str
    run_ids: list[int]


class RunSummary(BaseModel):
    id: int
    scenario_id: int
    scenario: str
    version: int
    chat_id: int
    chat: str
    status: str
    reason: str | None
    start_at: Timestamp
    started_at: Timestamp | None
    ended_at: Timestamp | None
    lines_sent: int
    lines: int = Field(description="lines made so far: queued, sent or failed")
    member_messages: int
    replies: int = Field(description="members' messages quoting one of the scene's lines")
    created_by: str


class CastMember(BaseModel):
    role: str
    account_id: int
    account: str


class LineRead(BaseModel):
    pc: int
    line: int = Field(description="in the scene's source")
    role: str
    account_id: int
    account: str
    text: str
    status: str = Field(description="queued, sent or failed")
    due_at: Timestamp
    sent_at: Timestamp | None
    telegram_message_id: int | None
    detail: str | None


class StateRead(BaseModel):
    kind: str = Field(
        description="scheduled, typing, waiting, listening, flood_wait, playing, paused, "
        "finished, failed or cancelled"
    )
    text: str
    until: Timestamp | None
    reason: str | None


class RunRead(RunSummary):
    seed: int
    variables: dict[str, Any]
    cast: list[CastMember]
    lines_played: list[LineRead]
    state: StateRead


class HistoryRead(BaseModel):
    at: Timestamp
    kind: str = Field(description="event (of the run) or message (a member's, in the chat)")
    event: str | None = Field(description="started, line_sent, waiting, paused, … (events)")
    line: int | None
    detail: dict[str, Any] | None
    sender: str | None = Field(description="the member's name (messages)")
    text: str | None
    reply_to_line_id: int | None
    during: bool | None = Field(description="false: written after the run ended")


def summary(row: RunRow) -> dict[str, Any]:
    r = row.run
    return {
        "id": r.id,
        "scenario_id": r.scenario_id,
        "scenario": row.scenario,
        "version": r.version,
        "chat_id": r.chat_id,
        "chat": row.chat,
        "status": r.status,
        "reason": r.reason,
        "start_at": r.start_at,
        "started_at": r.started_at,
        "ended_at": r.ended_at,
        "lines_sent": r.lines_sent,
        "lines": row.lines,
        "member_messages": r.member_messages,
        "replies": r.replies,
        "created_by": r.created_by,
    }


async def command(bus: Bus, action: SceneAction, actor: Actor, **fields: Any) -> SceneResult:
    """Sent to the scripts service; a bus with no scripts queue means it never ran."""
    try:
        return await send_scene_command(bus, SceneCommand(action=action, actor=actor, **fields))
    except UnroutableError:
        return SceneResult(
            outcome="unavailable", detail="the scripts service is not running; nothing was done"
        )


def refused(result: SceneResult) -> JSONResponse:
    """A 422 lists every reason as the API's field errors (field ``run``) and again as plain
    ``problems``, with the service's ``summary``; other refusals are ``{detail}``."""
    status = _STATUS.get(result.outcome, 422)
    said = result.detail or f"refused ({result.outcome})"
    if status != 422:
        return JSONResponse({"detail": said}, status_code=status)
    problems = result.problems or [said]
    body = {
        "detail": [{"field": "run", "reason": problem} for problem in problems],
        "problems": problems,
        "summary": said,
    }
    return JSONResponse(body, status_code=422)


@router.post("", response_model=StartedRead, status_code=201, responses=REFUSALS)
async def start(actor: Operator, bus: BusDep, body: RunStart) -> StartedRead | JSONResponse:
    """Start the scenario in the chat now, at a time, or N times spread over a window."""
    result = await command(bus, "start", actor, **body.model_dump())
    if result.outcome != "done":
        return refused(result)
    return StartedRead(run_ids=result.run_ids, starts=result.starts)


async def _act(
    bus: Bus, action: SceneAction, actor: Actor, run_id: int
) -> ActionRead | JSONResponse:
    result = await command(bus, action, actor, run_id=run_id)
    if result.outcome != "done":
        return refused(result)
    return ActionRead(outcome=result.outcome, detail=result.detail, run_ids=result.run_ids)


@router.post("/{run_id}/pause", response_model=ActionRead, responses=REFUSALS)
async def pause(actor: Operator, bus: BusDep, run_id: Id) -> ActionRead | JSONResponse:
    """No line goes out until it is resumed; a line already typing finishes."""
    return await _act(bus, "pause", actor, run_id)


@router.post("/{run_id}/resume", response_model=ActionRead, responses=REFUSALS)
async def resume(actor: Operator, bus: BusDep, run_id: Id) -> ActionRead | JSONResponse:
    return await _act(bus, "resume", actor, run_id)


@router.post("/{run_id}/cancel", response_model=ActionRead, responses=REFUSALS)
async def cancel(actor: Operator, bus: BusDep, run_id: Id) -> ActionRead | JSONResponse:
    """The run ends here; lines already sent stay in the chat."""
    return await _act(bus, "cancel", actor, run_id)


@router.get("", response_model=Page[RunSummary])
async def list_runs(
    _: Viewer,
    session: SessionDep,
    page: PageDep,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
    scenario_id: QueryId = None,
    chat_id: QueryId = None,
) -> Page[RunSummary]:
    """Newest first."""
    found = await run_page(
        session,
        status=status,
        scenario_id=scenario_id,
        chat_id=chat_id,
        limit=page.limit,
        offset=page.offset,
    )
    items = [RunSummary(**summary(row)) for row in found.rows]
    return Page(items=items, total=found.total, limit=page.limit, offset=page.offset)


def _read(detail: RunDetail, now: datetime) -> RunRead:
    run = detail.row.run
    lines = [
        LineRead(
            pc=x.line.pc,
            line=x.line.line,
            role=x.line.role,
            account_id=x.line.account_id,
            account=x.account,
            text=x.line.text,
            status=x.line.status,
            due_at=x.line.due_at,
            sent_at=x.line.sent_at,
            telegram_message_id=x.line.telegram_message_id,
            detail=x.line.detail,
        )
        for x in detail.lines
    ]
    state = detail.state
    return RunRead(
        **summary(detail.row),
        seed=run.seed,
        variables=dict(run.variables or {}),
        cast=[CastMember(role=r, account_id=a, account=n) for r, a, n in detail.cast],
        lines_played=lines,
        state=StateRead(
            kind=state.kind, text=state.text(now), until=state.until, reason=state.reason
        ),
    )


@router.get("/{run_id}", response_model=RunRead, responses=REFUSALS)
async def read(_: Viewer, session: SessionDep, run_id: Id) -> RunRead:
    """The run, its cast, its lines as they went out (sent time, Telegram message id), the
    counts (lines sent, members' messages, replies to lines) and what it is doing now."""
    now = datetime.now().astimezone()
    detail = await run_detail(session, run_id, now=now)
    if detail is None:
        raise HTTPException(404, f"run {run_id} does not exist")
    return _read(detail, now)


def _history(item: HistoryItem) -> HistoryRead:
    e, m = item.event, item.message
    return HistoryRead(
        at=item.at,
        kind=item.kind,
        event=e.kind if e else None,
        line=e.line if e else None,
        detail=dict(e.detail or {}) if e else None,
        sender=m.sender_name if m else None,
        text=m.text if m else None,
        reply_to_line_id=m.reply_to_line_id if m else None,
        during=m.during if m else None,
    )


@router.get("/{run_id}/history", response_model=list[HistoryRead], responses=REFUSALS)
async def history(_: Viewer, session: SessionDep, run_id: Id) -> list[HistoryRead]:
    """The run's events and the members' messages in its chat, merged by time."""
    if await session.get(SceneRun, run_id) is None:
        raise HTTPException(404, f"run {run_id} does not exist")
    return [_history(item) for item in await run_history(session, run_id)]
