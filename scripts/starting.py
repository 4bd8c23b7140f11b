"""Starting runs: everything that can refuse one is checked before anything is written, and all
of a command's runs are written in one transaction — a refused start leaves nothing behind.

Refused, each with its reason: an unknown or archived scenario, a chat that is not the operator's
own, a scene that no longer parses, keyword sets or campaigns it names that are gone, a cast that
cannot be completed, a variable without a value, a once-per-chat variation this chat has used up,
a fixed line this chat heard within the repeat window, more lines per hour than an account may send.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import Actor
from core.db.models import Campaign, Chat, KeywordSet
from core.db.scene_models import Scenario, SceneRun, SceneRunLine
from core.scene_commands import SceneCommand, SceneResult
from core.scene_variants import seen_variants
from scripts import history
from scripts.casting import cast_run
from scripts.lines import Pacing, text_hash
from scripts.scenario import (
    Budget,
    ScenarioInvalid,
    Scene,
    parse_scene,
    simulate,
    variable_values,
)


def _refused(problems: list[str]) -> SceneResult:
    return SceneResult(outcome="refused", detail=problems[0], problems=problems)


async def _named_things(session: AsyncSession, scene: Scene) -> list[str]:
    problems = []
    if scene.keyword_sets:
        known = set(await session.scalars(select(KeywordSet.name)))
        problems += [
            f"keyword set {name!r} (when keywords) does not exist"
            for name in scene.keyword_sets
            if name not in known
        ]
    if scene.campaigns:
        known = set(await session.scalars(select(Campaign.name)))
        problems += [
            f"campaign {name!r} (lead) does not exist"
            for name in scene.campaigns
            if name not in known
        ]
    return problems


def _values(scene: Scene, chat: Chat, given: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The start's values over the chat's over the scene's defaults, and what is wrong."""
    chat_values = {str(k): str(v) for k, v in (chat.scene_vars or {}).items()}
    values, missing = variable_values(scene, {**chat_values, **given})
    problems = [
        f"variable {{{name}}} has no value: give it for the run or set it on the chat"
        for name in missing
    ]
    problems += [
        f"variable {{{name}}} is not in the scene" for name in given if name not in scene.variables
    ]
    return values, problems


async def _used_up(session: AsyncSession, scene: Scene, chat_id: int) -> list[str]:
    once = [c for say in scene.lines() for c in say.text.choices() if c.kind == "once"]
    seen = await seen_variants(session, chat_id, (c.key for c in once))
    return [
        f"line {c.line}, column {c.column}: every option of this once-per-chat variation was "
        f"already used in this chat"
        for c in once
        if len(set(seen.used(c.key))) >= len(c.options)
    ]


async def _repeats(session: AsyncSession, scene: Scene, chat_id: int, since: datetime) -> list[str]:
    """Fixed lines (no variation, no member) this chat heard within the repeat window."""
    fixed = {
        text_hash("".join(p for p in say.text.parts if isinstance(p, str))): say.line
        for say in scene.lines()
        if all(isinstance(p, str) for p in say.text.parts) and not say.text.is_empty()
    }
    if not fixed:
        return []
    rows = await session.execute(
        select(SceneRunLine.text_hash, SceneRunLine.due_at).where(
            SceneRunLine.chat_id == chat_id,
            SceneRunLine.text_hash.in_(list(fixed)),
            SceneRunLine.status != "failed",
            SceneRunLine.due_at >= since,
        )
    )
    return [
        f"line {fixed[h]} went out in this chat at {at:%Y-%m-%d %H:%M} UTC; the same text is not "
        f"sent twice in a chat within the repeat window (add variations, or wait)"
        for h, at in dict(rows.all()).items()
    ]


def _starts(command: SceneCommand, now: datetime, rng: random.Random) -> list[datetime]:
    first = command.start_at or now
    if command.runs == 1 or command.window_minutes <= 0:
        return [first] * command.runs
    slot = command.window_minutes * 60 / command.runs
    return [
        first + timedelta(seconds=slot * i + rng.uniform(0, slot * 0.8))
        for i in range(command.runs)
    ]


async def start_runs(
    session: AsyncSession, command: SceneCommand, now: datetime, pacing: Pacing
) -> SceneResult:
    scenario = await session.get(Scenario, command.scenario_id or 0)
    if scenario is None or scenario.status != "active":
        return SceneResult(
            outcome="missing", detail=f"scenario {command.scenario_id} does not exist"
        )
    chat = await session.get(Chat, command.chat_id or 0)
    if chat is None:
        return SceneResult(outcome="missing", detail=f"chat {command.chat_id} does not exist")
    if not chat.own:
        return _refused(
            [
                f"{chat.ref} is not marked as the operator's own community (own: true); scenes "
                f"play only in your own chats — staged talk in other people's groups gets "
                f"accounts banned and is against Telegram's rules"
            ]
        )
    try:
        scene = parse_scene(scenario.source)
    except ScenarioInvalid as exc:
        return _refused([f"the scenario does not parse: {e}" for e in exc.errors])
    wanted = {**{r: int(a) for r, a in scenario.cast.items() if a is not None}, **command.cast}
    casting = await cast_run(
        session,
        roles=scene.roles,
        wanted=wanted,
        chat_id=chat.id,
        now=now,
        per_hour=pacing.per_hour,
        scale=pacing.scale,
        later=command.start_at is not None and command.start_at > now,
    )
    values, problems = _values(scene, chat, command.variables)
    problems += [f"role {r} is not in the scene" for r in command.cast if r not in scene.roles]
    problems = casting.problems + problems + await _named_things(session, scene)
    problems += await _used_up(session, scene, chat.id)
    problems += await _repeats(session, scene, chat.id, now - pacing.repeat_window)
    seed = command.seed if command.seed is not None else random.SystemRandom().randrange(2**31)
    budget = Budget(min_gap=0, per_hour=pacing.per_hour)  # gaps are kept at play time
    names = {role: f"#{account}" for role, account in casting.cast.items()}
    if not problems:
        timeline = simulate(scene, seed=seed, cast=names, variables=values, budget=budget)
        problems += [f"at this pace: {p}" for p in timeline.problems]
    if problems:
        return _refused(problems)
    starts = _starts(command, now, random.Random(seed))
    runs = [
        _new_run(scenario, chat, casting.cast, values, seed + i, start, command.actor, now)
        for i, start in enumerate(starts)
    ]
    session.add_all(runs)
    await session.flush()
    for run in runs:
        history.note(
            session,
            run,
            "scheduled",
            now,
            start_at=run.start_at.isoformat(),
            by=command.actor.login,
        )
    return SceneResult(
        outcome="done",
        detail=f"{len(runs)} run(s) of {scenario.name} in {chat.ref}",
        run_ids=[r.id for r in runs],
        starts=[r.start_at for r in runs],
    )


def _new_run(
    scenario: Scenario,
    chat: Chat,
    cast: dict[str, int],
    values: dict[str, str],
    seed: int,
    start: datetime,
    actor: Actor,
    now: datetime,
) -> SceneRun:
    return SceneRun(
        scenario_id=scenario.id,
        version=scenario.version,
        chat_id=chat.id,
        chat_ref=chat.ref,
        telegram_chat_id=chat.telegram_chat_id,
        cast=dict(cast),
        variables=values,
        seed=seed,
        status="scheduled",
        pc=0,
        state={},
        next_at=start,
        start_at=start,
        created_by=actor.login,
        created_at=now,
        updated_at=now,
    )
