"""Scene runs as people follow them: a page of runs (filters, lines sent so far), one run with its
cast, its lines as they went out and its members' messages in between, the state it is in now
("typing…", "waiting 34 s", "listening until 12:03", "paused", "failed: …"), and its history.

Reading only: the scripts service writes every run row. The state comes from the run's position
in its own scene version (``pc`` into the compiled program) and the time it next acts
(``next_at``), so it does not depend on how the service words its bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.reads.paging import capped_count
from admin.reads.scenarios import account_names, pairs
from core.db.models import Chat
from core.db.scene_models import (
    RUN_DUE,
    RUN_LIVE,
    RUN_OVER,
    Scenario,
    ScenarioVersion,
    SceneChatMessage,
    SceneRun,
    SceneRunEvent,
    SceneRunLine,
)
from scripts.scenario import Instr, ListenAt, SayAt, WaitAt, check_scene

RECENT_EVENTS = 12  # what the live page lists of a run's history
STATUSES = tuple(dict.fromkeys((*RUN_DUE, *RUN_LIVE, *RUN_OVER)))


@dataclass(frozen=True)
class RunState:
    # scheduled, typing, waiting, listening, flood_wait, playing, paused, or one of OVER
    kind: str
    until: datetime | None = None
    reason: str | None = None

    def text(self, now: datetime) -> str:
        """In English, for the API (the panel words it in the viewer's language)."""
        seconds = max(0, round((self.until - now).total_seconds())) if self.until else None
        clock = self.until.strftime("%H:%M:%S UTC") if self.until else ""
        return {
            "scheduled": f"starts at {clock}",
            "typing": "typing…",
            "waiting": f"waiting {seconds} s" if seconds is not None else "waiting",
            "listening": f"listening until {clock}" if clock else "listening",
            "flood_wait": f"waiting out a FloodWait until {clock}",
            "playing": "playing",
            "paused": "paused",
            "failed": f"failed: {self.reason or 'no reason given'}",
            "finished": "finished",
            "cancelled": "cancelled",
        }.get(self.kind, self.kind)


@dataclass(frozen=True)
class RunRow:
    run: SceneRun
    scenario: str
    chat: str
    lines: int  # lines made so far (queued, sent or failed)


@dataclass(frozen=True)
class RunPage:
    rows: list[RunRow]
    total: int
    more: bool
    offset: int


def _filtered(status: str | None, scenario_id: int | None, chat_id: int | None) -> Select[Any]:
    query = select(SceneRun)
    if status:
        query = query.where(SceneRun.status == status)
    if scenario_id is not None:
        query = query.where(SceneRun.scenario_id == scenario_id)
    if chat_id is not None:
        query = query.where(SceneRun.chat_id == chat_id)
    return query


async def run_page(
    session: AsyncSession,
    *,
    status: str | None = None,
    scenario_id: int | None = None,
    chat_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> RunPage:
    """Newest first."""
    query = _filtered(status, scenario_id, chat_id)
    total, more = await capped_count(session, query, offset)
    runs = list(
        await session.scalars(query.order_by(SceneRun.id.desc()).limit(limit).offset(offset))
    )
    return RunPage(await describe(session, runs), total, more, offset)


async def describe(session: AsyncSession, runs: list[SceneRun]) -> list[RunRow]:
    ids = [r.id for r in runs]
    names = select(Scenario.id, Scenario.name).where(Scenario.id.in_({r.scenario_id for r in runs}))
    scenarios = await pairs(session, names)
    chats = {
        c.id: c
        for c in await session.scalars(select(Chat).where(Chat.id.in_({r.chat_id for r in runs})))
    }
    lines = await pairs(
        session,
        select(SceneRunLine.run_id, func.count())
        .where(SceneRunLine.run_id.in_(ids))
        .group_by(SceneRunLine.run_id),
    )
    return [
        RunRow(
            run=r,
            scenario=scenarios.get(r.scenario_id, f"#{r.scenario_id}"),
            chat=_chat_label(chats.get(r.chat_id), r.chat_ref),
            lines=int(lines.get(r.id, 0)),
        )
        for r in runs
    ]


def _chat_label(chat: Chat | None, ref: str) -> str:
    if chat is None:
        return ref
    return f"{chat.title} ({chat.ref})" if chat.title else chat.ref


@dataclass(frozen=True)
class LineRow:
    line: SceneRunLine
    account: str


@dataclass(frozen=True)
class FeedItem:
    """One thing in the chat, in time order: a scene line or a member's message."""

    at: datetime | None  # None: a line not sent yet
    line: LineRow | None = None
    message: SceneChatMessage | None = None


@dataclass(frozen=True)
class RunDetail:
    row: RunRow
    cast: list[tuple[str, int, str]]  # (role, account id, name)
    lines: list[LineRow]
    messages: list[SceneChatMessage]
    state: RunState
    feed: list[FeedItem] = field(default_factory=list)
    events: list[SceneRunEvent] = field(default_factory=list)  # the newest first

    @property
    def over(self) -> bool:
        return self.row.run.status in RUN_OVER


async def run_detail(
    session: AsyncSession, run_id: int, *, now: datetime | None = None
) -> RunDetail | None:
    run = await session.get(SceneRun, run_id)
    if run is None:
        return None
    [row] = await describe(session, [run])
    lines = list(
        await session.scalars(
            select(SceneRunLine).where(SceneRunLine.run_id == run_id).order_by(SceneRunLine.pc)
        )
    )
    messages = list(
        await session.scalars(
            select(SceneChatMessage)
            .where(SceneChatMessage.run_id == run_id)
            .order_by(SceneChatMessage.at, SceneChatMessage.id)
        )
    )
    cast_ids = list((run.cast or {}).values())
    names = await account_names(session, [*cast_ids, *(line.account_id for line in lines)])
    shown = [LineRow(line, names.get(line.account_id, f"#{line.account_id}")) for line in lines]
    cast = [(role, int(a), names.get(int(a), f"#{a}")) for role, a in (run.cast or {}).items()]
    events = list(
        await session.scalars(
            select(SceneRunEvent)
            .where(SceneRunEvent.run_id == run_id)
            .order_by(SceneRunEvent.id.desc())
            .limit(RECENT_EVENTS)
        )
    )
    program = await _program(session, run)
    last = events[0] if events else None
    state = run_state(run, lines, last, program, now or datetime.now(UTC))
    return RunDetail(row, cast, shown, messages, state, _feed(shown, messages), events)


def _feed(lines: list[LineRow], messages: list[SceneChatMessage]) -> list[FeedItem]:
    """Sent lines and members' messages by time; lines still going out at the end."""
    timed = [FeedItem(_utc(m.at), message=m) for m in messages]
    timed += [FeedItem(_utc(x.line.sent_at), line=x) for x in lines if x.line.sent_at]
    timed.sort(key=lambda item: item.at or datetime.max.replace(tzinfo=UTC))
    return timed + [FeedItem(None, line=x) for x in lines if x.line.sent_at is None]


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _program(session: AsyncSession, run: SceneRun) -> tuple[Instr, ...]:
    source = await session.scalar(
        select(ScenarioVersion.source).where(
            ScenarioVersion.scenario_id == run.scenario_id,
            ScenarioVersion.version == run.version,
        )
    )
    return _compiled(source) if source is not None else ()


@lru_cache(maxsize=64)
def _compiled(source: str) -> tuple[Instr, ...]:
    """A live page asks every second or two: parse each version once."""
    scene, _ = check_scene(source)
    return scene.program if scene is not None else ()


def run_state(
    run: SceneRun,
    lines: list[SceneRunLine],
    last: SceneRunEvent | None,
    program: tuple[Instr, ...],
    now: datetime,
) -> RunState:
    """What the run is doing now, in the order a person asks: is it over, paused, held by a
    FloodWait, typing a line, or pausing/listening until a time."""
    if run.status in RUN_OVER:
        return RunState(run.status, reason=run.reason)
    if run.status in ("paused", "scheduled"):
        return RunState(run.status, until=_utc(run.next_at or run.start_at))
    until = _utc(run.next_at)
    if last is not None and "flood" in last.kind and until is not None and until > now:
        return RunState("flood_wait", until=until)
    if any(line.status == "queued" for line in lines):
        return RunState("typing")
    here = program[run.pc] if 0 <= run.pc < len(program) else None
    if isinstance(here, ListenAt):
        return RunState("listening", until=until)
    if isinstance(here, WaitAt | SayAt) and until is not None and until > now:
        return RunState("waiting", until=until)
    return RunState("playing", until=until)


@dataclass(frozen=True)
class HistoryItem:
    at: datetime
    kind: Literal["event", "message"]
    event: SceneRunEvent | None = None
    message: SceneChatMessage | None = None


async def run_history(session: AsyncSession, run_id: int) -> list[HistoryItem]:
    """The run's events and the members' messages in its chat, merged by time."""
    events = await session.scalars(
        select(SceneRunEvent).where(SceneRunEvent.run_id == run_id).order_by(SceneRunEvent.id)
    )
    messages = await session.scalars(
        select(SceneChatMessage)
        .where(SceneChatMessage.run_id == run_id)
        .order_by(SceneChatMessage.at, SceneChatMessage.id)
    )
    items = [HistoryItem(_utc(e.at) or e.at, "event", event=e) for e in events]
    items += [HistoryItem(_utc(m.at) or m.at, "message", message=m) for m in messages]
    items.sort(key=lambda item: item.at)  # stable: events keep their order at one moment
    return items
