"""The run coordinator: the database is the schedule. Runs whose ``next_at`` has come are claimed
(``FOR UPDATE SKIP LOCKED``, so several scripts processes share the work) and played forward; the
loop then sleeps until the earliest ``next_at`` or until something wakes it (a command, a line
confirmed, a member heard). Line confirmations and members' messages move their run at once, in
the transaction that records them, so the next line does not wait for the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from core.bus import Bus
from core.db import Database
from core.db.scene_models import RUN_DUE, Scenario, SceneMember, SceneRun, SceneRunLine
from core.db.upsert import insert_ignore
from core.events import MessageIncoming, MessageSent, SendFailed, as_utc, utcnow
from core.our_accounts import OurAccounts
from core.outbox import OutboxRelay
from core.scene_commands import SceneCommand, SceneResult
from core.topology import declare_account_queue
from core.waiting import wait_at_most
from scripts import history
from scripts.audience import (
    ClauseMatchers,
    EarlyAnswers,
    keep_message,
    maybe_hear,
    runs_hearing,
)
from scripts.casting import busy_in_chat
from scripts.control import change_run
from scripts.lines import Pacing
from scripts.outcomes import line_failed, line_sent
from scripts.player import Stage, advance
from scripts.scenes import SceneCache, SceneNotPlayable
from scripts.starting import start_runs

log = logging.getLogger(__name__)
CLAIM = 200  # runs played forward per pass
LANES = 4  # transactions of a pass side by side (PostgreSQL)
IDLE = 1.0  # seconds between looks when nothing is due (runs written by another process)
BUSY_RETRY = 30.0  # seconds (scaled) before a run whose account still plays elsewhere tries again


class Coordinator:
    def __init__(
        self,
        db: Database,
        bus: Bus,
        relay: OutboxRelay,
        pacing: Pacing,
        engagement: timedelta,
    ) -> None:
        self._db = db
        self._bus = bus
        self._relay = relay
        self._pacing = pacing
        self._engagement = engagement
        self._scenes = SceneCache()
        self._names: dict[int, str] = {}
        self._matchers = ClauseMatchers()
        self._early = EarlyAnswers(self._matchers)
        self._ours = OurAccounts(db)
        self._declared: set[int] = set()
        self._wake = asyncio.Event()
        # When the sleeping loop looks next (None while it plays): a handler that leaves a run
        # due earlier wakes it; one that leaves it waiting for a confirmation does not.
        self._looks_at: datetime | None = None
        self._stopping = False
        # SQLite has no row locks (and pysqlite reads outside the transaction until its first
        # write): the demo's single process takes its run-changing transactions one at a time.
        self._serial = asyncio.Lock() if db.is_sqlite else None

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        if self._serial is None:
            async with self._db.transaction() as session:
                yield session
            return
        async with self._serial, self._db.transaction() as session:
            yield session

    # ---- the loop --------------------------------------------------------------------------

    def stop_soon(self) -> None:
        """Finish the pass in progress, then return from ``run``: a transaction cut off by a
        cancellation could leave its rows locked under the bus handlers still waiting for them."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            self._looks_at = None
            try:
                upcoming = await self.play_due()
            except Exception:
                log.exception("scene pass failed; trying again")
                upcoming = utcnow() + timedelta(seconds=IDLE)
            delay = IDLE if upcoming is None else (upcoming - utcnow()).total_seconds()
            if delay > 0:
                delay = min(delay, IDLE)
                self._looks_at = utcnow() + timedelta(seconds=delay)
                await wait_at_most(self._wake.wait(), delay)

    def _due_again(self, next_at: datetime | None) -> None:
        """A handler committed a run that is next due at ``next_at``: wake the loop only if it
        would otherwise look later (a pass per confirmed line would cost four transactions)."""
        if next_at is None:
            return
        looks_at = self._looks_at
        if looks_at is None or as_utc(next_at) < looks_at:
            self._wake.set()

    async def play_due(self) -> datetime | None:
        """Play every run that is due; returns when the next one will be. On PostgreSQL a few
        transactions claim due runs side by side (SKIP LOCKED keeps them apart)."""
        lanes = 1 if self._serial is not None else LANES
        share = CLAIM // lanes
        # One lane first: usually a few runs are due, and idle lanes would each cost a query.
        crowded = await self._play_some(share) == share
        self._relay.poke()
        while crowded and not self._stopping:
            played = await asyncio.gather(*(self._play_some(share) for _ in range(lanes)))
            self._relay.poke()
            crowded = any(count == share for count in played)
        async with self._db.session() as session:
            upcoming = await session.scalar(
                select(func.min(SceneRun.next_at)).where(SceneRun.status.in_(RUN_DUE))
            )
        return as_utc(upcoming) if upcoming is not None else None

    async def _play_some(self, limit: int) -> int:
        async with self._transaction() as session:
            now = utcnow()
            runs = list(
                await session.scalars(
                    select(SceneRun)
                    .where(
                        SceneRun.status.in_(RUN_DUE),
                        SceneRun.next_at <= now,
                    )
                    .order_by(SceneRun.next_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            for run in runs:
                await self._play_one(session, run, now)
        return len(runs)

    async def _play_one(self, session: AsyncSession, run: SceneRun, now: datetime) -> None:
        """One run, in a savepoint: a run that cannot be played (a bug, bad data) fails alone
        with the reason instead of coming due again forever and holding up the others."""
        try:
            async with session.begin_nested():
                await self._play(session, run, now)
        except SQLAlchemyError:
            raise  # the database's trouble, not the run's: the whole pass goes again
        except Exception as exc:
            log.exception("run %s could not be played", run.id)
            await session.refresh(run)
            reason = f"internal error: {type(exc).__name__}"
            name = await self._scene_name(session, run.scenario_id)
            await history.end(session, run, "failed", now, scene_name=name, reason=reason)

    async def _play(self, session: AsyncSession, run: SceneRun, now: datetime) -> None:
        stage = await self._stage(session, run, now)
        if stage is None:
            return
        if run.status == "scheduled" and not await self._begin(session, run, stage):
            return
        await advance(run, stage)

    async def _stage(self, session: AsyncSession, run: SceneRun, now: datetime) -> Stage | None:
        name = await self._scene_name(session, run.scenario_id)
        try:
            scene = await self._scenes.get(session, run.scenario_id, run.version)
        except SceneNotPlayable as exc:
            await history.end(session, run, "failed", now, scene_name=name, reason=str(exc))
            return None
        return Stage(session, scene, name, now, self._pacing, heard_already=self._early)

    async def _scene_name(self, session: AsyncSession, scenario_id: int) -> str:
        if scenario_id not in self._names:
            name = await session.scalar(select(Scenario.name).where(Scenario.id == scenario_id))
            self._names[scenario_id] = name or f"scenario {scenario_id}"
        return self._names[scenario_id]

    async def _begin(self, session: AsyncSession, run: SceneRun, stage: Stage) -> bool:
        """A scheduled run starts, unless one of its accounts still plays in this chat."""
        busy = await busy_in_chat(session, run.chat_id, stage.now, except_run=run.id)
        clash = [int(a) for a in run.cast.values() if int(a) in busy]
        if clash:
            run.next_at = stage.now + timedelta(seconds=BUSY_RETRY * self._pacing.scale)
            other = busy[clash[0]]
            history.note(session, run, "delayed", stage.now, why=f"an account plays in run {other}")
            return False
        for account_id in {int(a) for a in run.cast.values()}:
            if account_id not in self._declared:
                await declare_account_queue(self._bus, account_id)
                self._declared.add(account_id)
            await insert_ignore(
                session, SceneMember, {"account_id": account_id, "chat_id": run.chat_id}
            )
        run.status, run.started_at = "playing", stage.now
        history.note(session, run, "started", stage.now, cast=run.cast)
        return True

    # ---- what arrives ----------------------------------------------------------------------

    async def on_command(self, command: SceneCommand) -> SceneResult:
        async with self._transaction() as session:
            now = utcnow()
            if command.action == "start":
                result = await start_runs(session, command, now, self._pacing)
            else:
                result = await change_run(session, command, now)
        self._relay.poke()
        self._wake.set()
        return result

    async def on_result(self, report: MessageSent | SendFailed) -> None:
        async with self._transaction() as session:
            now = utcnow()
            # The run first: a report delivered twice waits here for the other copy's commit,
            # then reads the line as that copy left it (and does nothing).
            run = await session.scalar(
                select(SceneRun).where(SceneRun.id == report.run_id).with_for_update()
            )
            line = await session.get(SceneRunLine, report.message_id)
            if run is None or line is None or line.run_id != run.id:
                log.warning("report for unknown scene line %s", report.message_id)
                return
            stage = await self._stage(session, run, now)
            if stage is None:
                return
            if isinstance(report, MessageSent):
                await line_sent(run, line, report, stage)
            else:
                await line_failed(run, line, report, stage)
            next_at = run.next_at
        self._relay.poke()
        self._due_again(next_at)

    async def on_member_message(self, message: MessageIncoming) -> None:
        if message.is_private or await self._ours.is_ours(message.sender.user_id):
            return
        due: list[datetime | None] = []
        async with self._transaction() as session:
            now = utcnow()
            for run in await runs_hearing(session, message, now, self._engagement):
                if not await keep_message(session, run, message, now):
                    continue  # another of our accounts reported it already
                stage = await self._stage(session, run, now)
                if stage is not None and await maybe_hear(run, message, stage, self._matchers):
                    await advance(run, stage)
                    due.append(run.next_at)
        self._relay.poke()
        for next_at in due:
            self._due_again(next_at)
