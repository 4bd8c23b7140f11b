"""Who plays which role in a run: the scenario's cast and the command's, then free accounts.

An account may play a role when it is a ``scripts`` account, active, not in a FloodWait that
outlasts the start, under its hourly budget, not already cast in this run, and not busy in another
live run of the same chat (two scenes may share a chat, never a voice). Accounts already in the
chat are preferred (no join needed), then the least used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Account
from core.db.scene_models import RUN_LIVE, SceneMember, SceneRun, SceneRunLine
from core.events import as_utc


@dataclass
class Casting:
    cast: dict[str, int] = field(default_factory=dict)  # role → account id
    problems: list[str] = field(default_factory=list)


async def busy_in_chat(
    session: AsyncSession, chat_id: int, now: datetime, *, except_run: int = 0
) -> dict[int, int]:
    """Account id → the run of this chat it plays in: live, or due to start (a run scheduled
    for later does not hold its accounts until then; if it still clashes, it waits)."""
    live = or_(
        SceneRun.status.in_(RUN_LIVE),
        and_(SceneRun.status == "scheduled", SceneRun.start_at <= now),
    )
    rows = await session.execute(
        select(SceneRun.id, SceneRun.cast).where(
            SceneRun.chat_id == chat_id, live, SceneRun.id != except_run
        )
    )
    return {int(account): run_id for run_id, cast in rows for account in cast.values()}


async def _lines_last_hour(session: AsyncSession, now: datetime, scale: float) -> dict[int, int]:
    since = now - timedelta(hours=1) * scale
    rows = await session.execute(
        select(SceneRunLine.account_id, func.count())
        .where(SceneRunLine.due_at > since, SceneRunLine.status != "failed")
        .group_by(SceneRunLine.account_id)
    )
    return {int(account): int(count) for account, count in rows.all()}


def _unfit(
    account: Account | None, now: datetime, used: Mapping[int, int], per_hour: int
) -> str | None:
    if account is None:
        return "does not exist"
    if account.role != "scripts":
        return f"is a {account.role} account, not a scripts one"
    if account.status != "active":
        return f"is {account.status}"
    if account.flood_until is not None and as_utc(account.flood_until) > now:
        return f"is in a FloodWait until {as_utc(account.flood_until):%H:%M} UTC"
    if used.get(account.id, 0) >= per_hour:
        return f"has sent its {per_hour} lines this hour"
    return None


async def cast_run(
    session: AsyncSession,
    *,
    roles: Sequence[str],
    wanted: Mapping[str, int],
    chat_id: int,
    now: datetime,
    per_hour: int,
    scale: float,
    later: bool = False,
) -> Casting:
    """A complete cast, or the problems that prevent one (each named). For runs that start
    ``later``, whether an account is busy in the chat is decided when they start (they wait)."""
    result = Casting()
    busy = {} if later else await busy_in_chat(session, chat_id, now)
    used = await _lines_last_hour(session, now, scale)
    taken: dict[int, str] = {}
    for role in roles:
        account_id = wanted.get(role)
        if account_id is None:
            continue
        account = await session.get(Account, account_id)
        name = account.name if account else f"#{account_id}"
        why = _unfit(account, now, used, per_hour)
        if why is None and account_id in busy:
            why = f"already plays in run {busy[account_id]} in this chat"
        if why is None and account_id in taken:
            why = f"already plays {taken[account_id]}"
        if why is not None:
            result.problems.append(f"role {role}: account {name} {why}")
            continue
        taken[account_id] = role
        result.cast[role] = account_id
    await _fill(session, roles, result, taken, busy, used, chat_id, now, per_hour)
    return result


async def _fill(
    session: AsyncSession,
    roles: Sequence[str],
    result: Casting,
    taken: dict[int, str],
    busy: Mapping[int, int],
    used: Mapping[int, int],
    chat_id: int,
    now: datetime,
    per_hour: int,
) -> None:
    """Roles nobody was named for get a free scripts account, if any."""
    open_roles = [r for r in roles if r not in result.cast and not _named(result, r)]
    if not open_roles:
        return
    members = set(
        await session.scalars(select(SceneMember.account_id).where(SceneMember.chat_id == chat_id))
    )
    candidates = [
        a
        for a in await session.scalars(select(Account).where(Account.role == "scripts"))
        if _unfit(a, now, used, per_hour) is None and a.id not in busy and a.id not in taken
    ]
    candidates.sort(key=lambda a: (a.id not in members, used.get(a.id, 0), a.id))
    for role in open_roles:
        if not candidates:
            result.problems.append(
                f"role {role}: no free scripts account (active, not in a FloodWait, under its "
                f"hourly budget, not already playing in this chat)"
            )
            continue
        account = candidates.pop(0)
        taken[account.id] = role
        result.cast[role] = account.id


def _named(result: Casting, role: str) -> bool:
    """A role whose named account was refused stays refused (no silent substitute)."""
    return any(p.startswith(f"role {role}:") for p in result.problems)
