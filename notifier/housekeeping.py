"""What the notifier checks by the clock: limits that end by themselves, dead letters piling up,
lost accounts that came back, links removed in the panel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from core.db import Database
from core.db.models import Account, OutboxMessage
from core.db.notifier_models import Alert, AlertDelivery, AlertMessage
from core.events import Event, TelegramUnlink
from notifier import subscriptions
from notifier.event_alerts import NewAlert, Settle
from notifier.intake import Intake, mark_dirty, settle
from notifier.texts import N_

log = logging.getLogger(__name__)
DEAD_LETTER_THRESHOLD = 10  # undeliverable outbox rows before someone is paged
LOST_KINDS = ("account.banned", "account.revoked")
# news and questions, not conditions: they stay "firing"
NEVER_RESOLVED = ("lead.new", "lead.ask", "conversation.reply")
PRUNE_BATCH = 5000


class Housekeeping:
    def __init__(
        self,
        db: Database,
        intake: Intake,
        *,
        wake: Callable[[], None],
        retention: timedelta = timedelta(days=30),
        every: float = 30.0,
    ) -> None:
        self._db = db
        self._retention = retention
        self._intake = intake
        self._wake = wake
        self._every = every

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # a bad tick must not end the loop; the next one tries again
                log.exception("notifier housekeeping failed")
            await asyncio.sleep(self._every)

    async def tick(self) -> None:
        await self.resolve_expired()
        await self.watch_dead_letters()
        await self.prune()

    async def prune(self) -> int:
        """The alert log keeps ``retention``: older alerts go with their deliveries and messages,
        except conditions still firing (a ban from two months ago is still a ban)."""
        cutoff = datetime.now(UTC) - self._retention
        async with self._db.transaction() as session:
            old = select(Alert.id).where(
                Alert.created_at < cutoff,
                (Alert.state != "firing") | Alert.kind.in_(NEVER_RESOLVED),
            )
            ids = list(await session.scalars(old.limit(PRUNE_BATCH)))
            if not ids:
                return 0
            carried = select(AlertDelivery.message_id).where(AlertDelivery.alert_id.in_(ids))
            messages = list(
                await session.scalars(carried.where(AlertDelivery.message_id.is_not(None)))
            )
            await session.execute(delete(AlertDelivery).where(AlertDelivery.alert_id.in_(ids)))
            await session.execute(delete(Alert).where(Alert.id.in_(ids)))
            still = select(AlertDelivery.message_id).where(AlertDelivery.message_id.in_(messages))
            await session.execute(
                delete(AlertMessage).where(
                    AlertMessage.id.in_(messages), AlertMessage.id.not_in(still)
                )
            )
            return len(ids)

    async def resolve_expired(self) -> None:
        """A PeerFlood limit or a FloodWait that has run out: its alert says so."""
        now = datetime.now(UTC)
        async with self._db.transaction() as session:
            due = await session.scalars(
                select(Alert.fingerprint)
                .where(Alert.state == "firing", Alert.resolve_at <= now)
                .distinct()
            )
            for fingerprint in list(due):
                done = Settle(state="resolved", outcome="resolved", at=now, fingerprint=fingerprint)
                await settle(session, done, now=now)
        self._wake()

    async def watch_dead_letters(self) -> None:
        now = datetime.now(UTC)
        async with self._db.transaction() as session:
            dead = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.dead_at.is_not(None))
            )
            firing = await session.scalar(
                select(Alert).where(Alert.kind == "dead_letters", Alert.state == "firing")
            )
            if firing is not None and (dead or 0) < DEAD_LETTER_THRESHOLD:
                done = Settle(
                    state="resolved", outcome="resolved", at=now, fingerprint="dead_letters"
                )
                await settle(session, done, now=now)
                return
            if firing is not None and firing.data.get("count") != dead:
                firing.data = {**firing.data, "count": dead}  # the message shows the new count
                firing.title = f"{dead} messages in dead letters"
                await mark_dirty(session, [firing.id], now)
        if firing is None and (dead or 0) >= DEAD_LETTER_THRESHOLD:
            await self._intake.raise_alert(
                NewAlert(
                    kind="dead_letters",
                    fingerprint="dead_letters",
                    subject="outbox",
                    title=f"{dead} messages in dead letters",
                    text=N_(
                        "Events the outbox could not publish; retry or discard them in the panel."
                    ),
                    data={"count": dead},
                    at=now,
                )
            )

    async def on_control(self, event: Event) -> None:
        if event.name == TelegramUnlink.NAME:
            await self.on_unlink(event)
        else:
            await self.on_config_changed(event)

    async def on_config_changed(self, _event: Event) -> None:
        """An account logged in again or unbanned by hand: its "banned" alert is over."""
        now = datetime.now(UTC)
        async with self._db.transaction() as session:
            firing = (
                await session.execute(
                    select(Alert.fingerprint, Alert.subject).where(
                        Alert.kind.in_(LOST_KINDS), Alert.state == "firing"
                    )
                )
            ).all()
            for fingerprint, subject in firing:
                account_id = int(subject.split(":", 1)[1])
                status = await session.scalar(
                    select(Account.status).where(Account.id == account_id)
                )
                if status == "active":
                    done = Settle(
                        state="resolved", outcome="resolved", at=now, fingerprint=fingerprint
                    )
                    await settle(session, done, now=now)
        self._wake()

    async def on_unlink(self, event: Event) -> None:
        asked = event.payload_as(TelegramUnlink)
        async with self._db.transaction() as session:
            await subscriptions.unlink(session, asked.user_id)
