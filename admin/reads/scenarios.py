"""Scenarios as people look at them: each with its roles, which roles still lack an account, how
many runs it had and the last one; a scenario's versions; the accounts that may play a role."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Account, Chat
from core.db.scene_models import Scenario, ScenarioVersion, SceneRun

SCRIPTS_ROLE = "scripts"


@dataclass(frozen=True)
class LastRun:
    id: int
    status: str
    at: datetime  # started, or due when it has not started


@dataclass(frozen=True)
class ScenarioRow:
    scenario: Scenario
    cast: dict[str, tuple[int, str]]  # role → (account id, name), existing accounts only
    uncast: list[str]  # roles without an account
    runs: int
    last_run: LastRun | None


def uncast_roles(roles: Sequence[str], cast: Mapping[str, Any], known: set[int]) -> list[str]:
    """Roles with no account, or with one that no longer exists."""
    return [role for role in roles if cast.get(role) not in known]


async def scenario_rows(
    session: AsyncSession, *, archived: bool = False, ids: Sequence[int] | None = None
) -> list[ScenarioRow]:
    query = select(Scenario).order_by(Scenario.name)
    if ids is not None:
        query = query.where(Scenario.id.in_(ids))
    elif not archived:
        query = query.where(Scenario.status == "active")
    scenarios = list(await session.scalars(query))
    wanted = [s.id for s in scenarios]
    counts = await pairs(
        session,
        select(SceneRun.scenario_id, func.count())
        .where(SceneRun.scenario_id.in_(wanted))
        .group_by(SceneRun.scenario_id),
    )
    last = await _last_runs(session, wanted)
    names = await account_names(session, [a for s in scenarios for a in (s.cast or {}).values()])
    return [
        ScenarioRow(
            scenario=s,
            cast={r: (a, names[a]) for r, a in (s.cast or {}).items() if a in names},
            uncast=uncast_roles(s.roles, s.cast or {}, set(names)),
            runs=int(counts.get(s.id, 0)),
            last_run=last.get(s.id),
        )
        for s in scenarios
    ]


async def _last_runs(session: AsyncSession, scenario_ids: list[int]) -> dict[int, LastRun]:
    newest = (
        select(func.max(SceneRun.id))
        .where(SceneRun.scenario_id.in_(scenario_ids))
        .group_by(SceneRun.scenario_id)
    )
    runs = await session.scalars(select(SceneRun).where(SceneRun.id.in_(newest)))
    return {r.scenario_id: LastRun(r.id, r.status, r.started_at or r.start_at) for r in runs}


async def account_names(session: AsyncSession, ids: Sequence[Any]) -> dict[int, str]:
    wanted = [int(i) for i in ids if isinstance(i, int)]
    if not wanted:
        return {}
    return await pairs(session, select(Account.id, Account.name).where(Account.id.in_(wanted)))


async def pairs(session: AsyncSession, query: Select[Any, Any]) -> dict[Any, Any]:
    """A two-column query as a mapping of the first column to the second."""
    return dict((await session.execute(query)).all())


async def versions(session: AsyncSession, scenario_id: int) -> list[ScenarioVersion]:
    """Newest first."""
    return list(
        await session.scalars(
            select(ScenarioVersion)
            .where(ScenarioVersion.scenario_id == scenario_id)
            .order_by(ScenarioVersion.version.desc())
        )
    )


async def scripts_accounts(session: AsyncSession) -> list[Account]:
    """The accounts that may play a role: scripts accounts, active first, by name."""
    rows = await session.scalars(
        select(Account)
        .where(Account.role == SCRIPTS_ROLE)
        .order_by((Account.status != "active"), Account.name)
    )
    return list(rows)


async def own_chats(session: AsyncSession) -> list[Chat]:
    """The chats scenes may play in: those the workspace marks as the operator's own."""
    return list(await session.scalars(select(Chat).where(Chat.own.is_(True)).order_by(Chat.ref)))
