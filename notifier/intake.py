"""Events in, alerts out: each event becomes alerts in the log, their deliveries to subscribers
and the messages that will carry them, in one transaction per batch of events (group commit), so
an event is acked only once everything it caused is stored; the courier does the sending.

A redelivered event changes nothing twice: an alert is found again by its fingerprint and the
event's time. A firing alert seen again within the repeat interval is counted on the alert (its
message shows "×N") instead of paging again; after the interval it pages anew.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.batching import Batcher
from core.db import Database
from core.db.notifier_models import Alert, AlertDelivery, AlertMessage, TelegramTakeover
from core.events import (
    AccountBanned,
    AccountRevoked,
    AlertRaised,
    ConversationHandedBack,
    ConversationHandoff,
    ConversationReply,
    DraftDecided,
    DraftPending,
    Event,
    LeadFound,
    LeadMarked,
    RunEnded,
    SendFailed,
    WorkerCrashed,
)
from core.worker_commands import WorkerReleased
from notifier import routing
from notifier.event_alerts import (
    NewAlert,
    Settle,
    Translate,
    conversation_handed_back,
    conversation_handoff,
    conversation_reply,
    draft_decided,
    draft_pending,
    lead_found,
    lead_marked,
)
from notifier.raising import raise_alerts
from notifier.system_alerts import (
    account_lost,
    alert_raised,
    run_ended,
    send_failed,
    worker_crashed,
    worker_released,
)

log = logging.getLogger(__name__)
# Event name → what it means for the operators (alerts raised, alerts settled).
TRANSLATORS: dict[str, Translate] = {
    LeadFound.NAME: lead_found,
    LeadMarked.NAME: lead_marked,
    DraftPending.NAME: draft_pending,
    DraftDecided.NAME: draft_decided,
    ConversationHandoff.NAME: conversation_handoff,
    ConversationReply.NAME: conversation_reply,
    ConversationHandedBack.NAME: conversation_handed_back,
    AccountBanned.NAME: account_lost,
    AccountRevoked.NAME: account_lost,
    SendFailed.NAME: send_failed,
    WorkerCrashed.NAME: worker_crashed,
    WorkerReleased.NAME: worker_released,
    RunEnded.NAME: run_ended,
    AlertRaised.NAME: alert_raised,
}
EVENT_NAMES = tuple(TRANSLATORS)
REPEAT_REDRAW = timedelta(seconds=30)


class Intake:
    def __init__(
        self,
        db: Database,
        *,
        repeat: timedelta,
        group_window: timedelta,
        wake: Callable[[], None],
    ) -> None:
        self._db = db
        self._repeat = repeat
        self._window = group_window
        self._wake = wake
        self._batcher: Batcher[Event, None] = Batcher(self._batch, name="notifier-intake")

    async def on_event(self, event: Event) -> None:
        if event.name in TRANSLATORS:
            await self._batcher.submit(event)

    async def _batch(self, events: Sequence[Event]) -> list[None | Exception]:
        now = datetime.now(UTC)
        async with self._db.transaction() as session:
            everyone = await routing.active_recipients(session)
            outcomes = [
                o for event in events for o in await TRANSLATORS[event.name](session, event)
            ]
            await self._apply(session, outcomes, everyone, now)
        self._wake()
        return [None] * len(events)

    async def raise_alert(self, new: NewAlert) -> None:
        """An alert from within the notifier (dead letters piling up), outside any event."""
        now = datetime.now(UTC)
        async with self._db.transaction() as session:
            everyone = await routing.active_recipients(session)
            await self._apply(session, [new], everyone, now)
        self._wake()

    async def _apply(
        self,
        session: AsyncSession,
        outcomes: list[NewAlert | Settle],
        everyone: list[routing.Recipient],
        now: datetime,
    ) -> None:
        """In order: runs of new alerts go in together, a settlement after what came before."""
        run: list[NewAlert] = []
        for outcome in [*outcomes, None]:
            if isinstance(outcome, NewAlert):
                run.append(outcome)
                continue
            if run:
                repeated = await raise_alerts(
                    session, run, everyone, now=now, repeat=self._repeat, window=self._window
                )
                # A repeat alone is no news: its "×N" waits for the next edit, or half a minute.
                await mark_dirty(session, repeated, now + REPEAT_REDRAW)
                run = []
            if outcome is not None:
                await settle(session, outcome, now=now)


async def settle(session: AsyncSession, done: Settle, *, now: datetime) -> list[int]:
    """Mark the matching firing alerts handled or resolved and have their messages redrawn.
    Returns their ids."""
    query = select(Alert.id).where(Alert.state == "firing")
    if done.fingerprint is not None:
        query = query.where(Alert.fingerprint == done.fingerprint)
    if done.kinds:
        query = query.where(Alert.kind.in_(done.kinds))
    if done.subject is not None:
        query = query.where(Alert.subject == done.subject)
    ids = list(await session.scalars(query))
    if done.outcome == "handed_back" and done.subject and done.subject.startswith("conversation:"):
        await _release(session, int(done.subject.split(":", 1)[1]), done.subject, now)
    if not ids:
        return []
    values: dict[str, object] = {"state": done.state, "outcome": done.outcome}
    if done.state == "handled":
        values |= {"handled_by": done.by, "handled_at": done.at}
    else:
        values |= {"resolved_at": done.at}
    await session.execute(update(Alert).where(Alert.id.in_(ids)).values(**values))
    await mark_dirty(session, ids, now)
    return ids


async def mark_dirty(session: AsyncSession, alert_ids: list[int], due: datetime) -> None:
    """Messages already in a chat are edited (by ``due``) to show the change; ones not sent yet
    will show it anyway."""
    carried = select(AlertDelivery.message_id).where(
        AlertDelivery.alert_id.in_(alert_ids), AlertDelivery.message_id.is_not(None)
    )
    await session.execute(
        update(AlertMessage)
        .where(
            AlertMessage.id.in_(carried),
            AlertMessage.state.in_(("sending", "sent")),
            or_(AlertMessage.dirty.is_(False), AlertMessage.due_at > due),
        )
        .values(dirty=True, due_at=due)
        .execution_options(synchronize_session=False)
    )


async def _release(
    session: AsyncSession, conversation_id: int, subject: str, now: datetime
) -> None:
    """Handed back: the chat that held the conversation no longer answers it; every message
    about it is redrawn without its "Hand back" button."""
    await session.execute(
        delete(TelegramTakeover).where(TelegramTakeover.conversation_id == conversation_id)
    )
    ids = list(await session.scalars(select(Alert.id).where(Alert.subject == subject)))
    await mark_dirty(session, ids, now)
