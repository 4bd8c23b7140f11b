"""Scenarios: check a scene as it is typed, save it (every save a new version), give its roles
accounts (the cast), archive it, and simulate one concrete timeline of it.

The scene's own rules are the scenario language's (``scripts.scenario.check_scene``, pure); what
only the database knows is checked here with the same shape of error (line, column, reason): a
``when keywords NAME`` naming no keyword set, a ``lead NAME`` naming no campaign. A scene with any
error is never saved. Runs are not written here: the scripts service owns them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.setup.keyword_sets import SetupError
from core.access import Actor
from core.audit import record
from core.db.models import Account, Campaign, Chat, KeywordSet
from core.db.scene_models import RUN_DUE, RUN_LIVE, Scenario, ScenarioVersion, SceneRun
from core.scene_variants import seen_variants
from core.settings import Settings
from scripts.scenario import (
    Budget,
    Lead,
    Listen,
    ScenarioError,
    Scene,
    Step,
    Timeline,
    check_scene,
    simulate,
)

UNFINISHED = tuple(dict.fromkeys((*RUN_DUE, *RUN_LIVE)))  # a run here still needs its scene
SCRIPTS_ROLE = "scripts"  # the accounts that play scenes
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class SceneInvalid(SetupError):
    """The scene has errors: every one, with its line and column; nothing was saved."""

    def __init__(self, errors: Sequence[ScenarioError]) -> None:
        first = errors[0] if errors else ScenarioError(1, 1, "the scene is empty")
        super().__init__(
            f"line {first.line}, column {first.column}: {first.message}", field="source"
        )
        self.errors = list(errors)


@dataclass(frozen=True)
class Checked:
    """A scene as the editor shows it: parsed (None when it has errors) and every error."""

    scene: Scene | None
    errors: list[ScenarioError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.scene is not None and not self.errors


async def check_source(session: AsyncSession, source: str) -> Checked:
    """The language's errors, then the names only the database knows, all sorted by place."""
    scene, errors = check_scene(source.replace("\r\n", "\n"))
    if scene is None:
        return Checked(None, list(errors))
    unknown = await _unknown_names(session, scene, source.replace("\r\n", "\n").split("\n"))
    if unknown:
        return Checked(scene, sorted(unknown, key=lambda e: (e.line, e.column)))
    return Checked(scene, [])


async def _unknown_names(
    session: AsyncSession, scene: Scene, lines: list[str]
) -> list[ScenarioError]:
    sets = set(await session.scalars(select(KeywordSet.name)))
    campaigns = set(await session.scalars(select(Campaign.name)))
    found: list[ScenarioError] = []
    for kind, name, line in _references(scene.steps):
        known = sets if kind == "keywords" else campaigns
        if name in known:
            continue
        listed = ", ".join(sorted(known)) or "none yet"
        what = "keyword set" if kind == "keywords" else "campaign"
        column = _column_of(lines, line, name)
        found.append(ScenarioError(line, column, f"unknown {what} '{name}' (known: {listed})"))
    return found


def _references(steps: Iterable[Step]) -> Iterator[tuple[str, str, int]]:
    """(kind, name, line) of every keyword set and campaign the steps name, nested ones too."""
    for step in steps:
        if isinstance(step, Listen):
            for clause in step.clauses:
                if clause.kind == "keywords" and clause.keyword_set is not None:
                    yield "keywords", clause.keyword_set, clause.line
                yield from _references(clause.steps)
        elif isinstance(step, Lead):
            yield "lead", step.campaign, step.line


def _column_of(lines: list[str], line: int, name: str) -> int:
    """Where ``name`` stands on its line (the last occurrence: it follows the keyword)."""
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    at = text.rfind(name)
    return at + 1 if at >= 0 else 1


def parse_name(name: str) -> str:
    name = name.strip()
    if not NAME.fullmatch(name):
        raise SetupError(
            "a name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            field="name",
        )
    return name


async def valid_scene(session: AsyncSession, source: str) -> Scene:
    checked = await check_source(session, source)
    if not checked.ok or checked.scene is None:
        raise SceneInvalid(checked.errors)
    return checked.scene


async def check_cast(
    session: AsyncSession, roles: Sequence[str], cast: Mapping[str, int | None]
) -> dict[str, int]:
    """The cast as stored (roles with an account only); ``SetupError`` naming the role whose
    account does not exist, is not a scripts account, or already plays another role."""
    chosen = {role.lower(): account for role, account in cast.items() if account is not None}
    for role in chosen:
        if role not in roles:
            listed = ", ".join(roles)
            raise SetupError(
                f"the scene has no role '{role}' (roles: {listed})", field=f"cast.{role}"
            )
    accounts = {
        a.id: a
        for a in await session.scalars(select(Account).where(Account.id.in_(chosen.values())))
    }
    played: dict[int, str] = {}
    for role, account_id in chosen.items():
        account = accounts.get(account_id)
        if account is None:
            raise SetupError(f"account {account_id} does not exist", field=f"cast.{role}")
        if account.role != SCRIPTS_ROLE:
            raise SetupError(
                f"{account.name} is a {account.role} account; scenes are played by scripts "
                "accounts",
                field=f"cast.{role}",
            )
        if account_id in played:
            raise SetupError(
                f"{account.name} already plays {played[account_id]}: one account, one role",
                field=f"cast.{role}",
            )
        played[account_id] = role
    return chosen


async def scenario_of(session: AsyncSession, scenario_id: int) -> Scenario:
    found = await session.get(Scenario, scenario_id)
    if found is None:
        raise SetupError(f"scenario {scenario_id} does not exist", missing=True)
    return found


async def create_scenario(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str,
    source: str,
    cast: Mapping[str, int | None] | None = None,
) -> Scenario:
    name = parse_name(name)
    if await session.scalar(select(Scenario.id).where(Scenario.name == name)) is not None:
        raise SetupError(f"a scenario named {name} already exists", field="name")
    scene = await valid_scene(session, source)
    chosen = await check_cast(session, scene.roles, cast or {})
    scenario = Scenario(
        name=name,
        title=scene.title,
        version=1,
        source=_stored(source),
        roles=list(scene.roles),
        cast=chosen,
        status="active",
        updated_by=actor.login,
    )
    session.add(scenario)
    await session.flush()
    session.add(_version_row(scenario, actor))
    record(session, "scenario_created", actor=actor, target=name, version=1)
    return scenario


async def update_source(
    session: AsyncSession, actor: Actor, scenario_id: int, source: str
) -> Scenario:
    """A new version; the cast keeps the roles the new text still has."""
    scenario = await scenario_of(session, scenario_id)
    scene = await valid_scene(session, source)
    scenario.version += 1
    scenario.source = _stored(source)
    scenario.title = scene.title
    scenario.roles = list(scene.roles)
    scenario.cast = {r: a for r, a in (scenario.cast or {}).items() if r in scene.roles}
    scenario.updated_at = datetime.now(UTC)
    scenario.updated_by = actor.login
    session.add(_version_row(scenario, actor))
    await session.flush()
    record(session, "scenario_changed", actor=actor, target=scenario.name, version=scenario.version)
    return scenario


def _stored(source: str) -> str:
    return source.replace("\r\n", "\n")


def _version_row(scenario: Scenario, actor: Actor) -> ScenarioVersion:
    return ScenarioVersion(
        scenario_id=scenario.id,
        version=scenario.version,
        source=scenario.source,
        created_by=actor.login,
    )


async def set_cast(
    session: AsyncSession, actor: Actor, scenario_id: int, cast: Mapping[str, int | None]
) -> Scenario:
    """The whole cast: a role left out or null has no account."""
    scenario = await scenario_of(session, scenario_id)
    scenario.cast = await check_cast(session, scenario.roles, cast)
    scenario.updated_at = datetime.now(UTC)
    scenario.updated_by = actor.login
    await session.flush()
    record(session, "scenario_cast", actor=actor, target=scenario.name, cast=scenario.cast)
    return scenario


async def archive_scenario(session: AsyncSession, actor: Actor, scenario_id: int) -> None:
    """Refused while a run of it is scheduled, playing or paused: it still needs the text."""
    scenario = await scenario_of(session, scenario_id)
    running = list(
        await session.scalars(
            select(SceneRun.id)
            .where(SceneRun.scenario_id == scenario_id, SceneRun.status.in_(UNFINISHED))
            .order_by(SceneRun.id)
        )
    )
    if running:
        ids = ", ".join(str(i) for i in running[:10])
        raise SetupError(
            f"runs {ids} of {scenario.name} are not over: cancel them (or let them finish) first"
        )
    scenario.status = "archived"
    scenario.updated_by = actor.login
    record(session, "scenario_archived", actor=actor, target=scenario.name)


async def version_of(session: AsyncSession, scenario_id: int, version: int) -> ScenarioVersion:
    found = await session.scalar(
        select(ScenarioVersion).where(
            ScenarioVersion.scenario_id == scenario_id, ScenarioVersion.version == version
        )
    )
    if found is None:
        raise SetupError(f"scenario {scenario_id} has no version {version}", missing=True)
    return found


# ---- simulation -------------------------------------------------------------------------------


async def simulate_scenario(
    session: AsyncSession,
    scenario: Scenario,
    settings: Settings,
    *,
    seed: int,
    cast: Mapping[str, int | None] | None = None,
    variables: Mapping[str, str] | None = None,
    chat_id: int | None = None,
) -> Timeline:
    """One concrete timeline of the current version, as a run in ``chat_id`` would play it:
    the chat's variables and seen variants, the scenario's cast (``cast`` over it) and the
    scene budget of the settings."""
    scene = await valid_scene(session, scenario.source)
    chosen = await check_cast(session, scene.roles, {**(scenario.cast or {}), **(cast or {})})
    accounts = select(Account.id, Account.name).where(Account.id.in_(chosen.values()))
    names = dict((await session.execute(accounts)).all())
    values: dict[str, str] = {}
    history = None
    if chat_id is not None:
        chat = await session.get(Chat, chat_id)
        if chat is None:
            raise SetupError(f"chat {chat_id} does not exist", field="chat_id")
        values.update({str(k): str(v) for k, v in (chat.scene_vars or {}).items()})
        keys = (c.key for say in scene.lines() for c in say.text.choices() if c.kind != "random")
        history = await seen_variants(session, chat_id, keys)
    values.update(variables or {})
    return simulate(
        scene,
        seed=seed,
        cast={role: names[account] for role, account in chosen.items() if account in names},
        variables=values,
        budget=Budget(min_gap=settings.scene_min_gap, per_hour=settings.scene_lines_per_hour),
        history=history,
        time_scale=settings.scene_time_scale,
    )
