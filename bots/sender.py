"""``command.send`` for one account: every idempotency key becomes at most one DM.

The key is recorded as "sending" in its own committed transaction before Telegram is asked, and
only the handler whose insert made the row sends. A key seen again is settled from its row:
"sent" announces ``message.sent`` again (a lost confirmation heals), "failed" is done, and
"sending" that stays so for the settle time means its sender died: the dialog is searched for the
text before sending (reconcile). The same search runs before retrying a send whose outcome is
unknown (Telegram unreachable mid-call), so no retry doubles a message.

Handlers of one key in this process run one at a time: a redelivery during a FloodWait waits
for the first delivery instead of reconciling against it.

FloodWait: a wait up to ``flood_wait_hold`` seconds is waited out with the command unacked; a
longer one hands the send back (``message.send_failed`` with ``flood_wait`` and ``retry_after``,
its key ``failed``) so that no command sits unacked for hours (RabbitMQ closes a channel whose
consumer holds a message past its timeout), and the manager reschedules it under a new key. While
a wait runs, the account's other sends wait or are handed back too, instead of asking Telegram.
Every FloodWait Telegram gives is written to the account (``bots.account_health``).

PeerFlood fails the send (``peer_flood``) and limits the account for the configured cool-down,
in the same transaction; the account is not lost: the manager gives it no new first DMs until
then, and moves this conversation to another account.

A worker that stops lets the sends in flight finish first (``finish``); a send that the stop
still interrupts after its account was lost is failed with the loss, so the manager re-routes it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bots import telegram_health_metrics
from bots.account_health import record_flood_wait, record_peer_flood
from bots.account_loss import AccountGone, AccountLoss, LossLatch, record_loss
from bots.scene_lines import Attempts as _Attempts
from bots.scene_lines import send_scene_line, show_typing, to_peer
from core.batching import Batcher
from core.bus import PermanentError
from core.db import Database
from core.db.models import SentKey
from core.db.upsert import insert_ignore_many
from core.events import (
    SCENE_RESULT_SUFFIX,
    Event,
    MessageSent,
    Payload,
    SendFailed,
    SendFailure,
    SendMessage,
    utcnow,
)
from core.outbox import OutboxRelay, add_many_to_outbox, add_to_outbox
from core.telegram import (
    AccountClient,
    AttachmentMissing,
    ChatNotFound,
    FloodWait,
    PeerFlood,
    SentMessage,
    TelegramError,
    TelegramUnavailable,
    WriteForbidden,
)
from core.waiting import wait_at_most

log = logging.getLogger(__name__)
T = TypeVar("T")

SENDING, SENT, FAILED = "sending", "sent", "failed"
KEY_LIMIT = 64  # sent_keys.idempotency_key is VARCHAR(64)
SETTLE_SECONDS = 5.0  # a live sender elsewhere finishes (or fails) a send within this
FLOOD_WAIT_HOLD = 60.0  # seconds of FloodWait waited out holding the command
SETTLE_POLL = 0.2
RECENT_LIMIT = 20  # latest messages of the dialog searched for an earlier send
DETAIL_LIMIT = 500
PEER_FLOOD_COOLDOWN = timedelta(hours=24)


class Retry(Protocol):
    """Runs a client call, waiting out FloodWait and an unreachable Telegram (the worker's)."""

    async def __call__(self, make: Callable[[], Awaitable[T]]) -> T: ...


class Deferred(TelegramError):
    """Telegram told the account to wait longer than a command should be held. ``told`` is the
    FloodWait's length when Telegram said so to this send (not another send's wait still running):
    only that one goes into the account's history."""

    def __init__(self, seconds: float, *, told: int | None = None) -> None:
        super().__init__(f"flood wait of {seconds:.0f}s: handed back to be rescheduled")
        self.retry_after = utcnow() + timedelta(seconds=seconds)
        self.told = told


Note = Callable[[AsyncSession], Awaitable[object]]  # more to write in a failure's transaction


SENT_KEYS = cast(Table, SentKey.__table__)
_MARK_SENT = (
    update(SENT_KEYS)
    .where(SENT_KEYS.c.idempotency_key == bindparam("b_key"))
    .values(
        status=SENT,
        telegram_message_id=bindparam("b_message_id"),
        sent_at=bindparam("b_sent_at"),
    )
)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite drops the zone


# ---- sending -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    command: SendMessage
    cause: uuid.UUID  # the command event: correlation id of the events it leads to


@dataclass(frozen=True)
class _Delivered:
    message_id: int
    sent_at: datetime


def _result_key(command: SendMessage, payload: Payload) -> str | None:
    """Scene lines report on ``<event>.scene``: the manager and the notifier bind the bare name."""
    return payload.NAME + SCENE_RESULT_SUFFIX if command.scene is not None else None


class Sender:
    """Carries out ``command.send`` for one account; see the module docstring."""

    def __init__(
        self,
        *,
        account_id: int,
        db: Database,
        relay: OutboxRelay,
        client: AccountClient,
        retry: Retry,
        loss: LossLatch,
        settle_seconds: float = SETTLE_SECONDS,
        flood_wait_hold: float = FLOOD_WAIT_HOLD,
        peer_flood_cooldown: timedelta = PEER_FLOOD_COOLDOWN,
    ) -> None:
        self._account_id = account_id
        self._db = db
        self._relay = relay
        self._client = client
        self._retry = retry
        self._loss = loss
        self._settle_seconds = settle_seconds
        self._flood_wait_hold = flood_wait_hold
        self._peer_flood_cooldown = peer_flood_cooldown
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._flood_until = 0.0  # loop time before which Telegram said this account must not send
        self._busy: dict[str, asyncio.Event] = {}
        # Commands and reports that arrive together share one transaction each.
        self._recording: Batcher[SendMessage, bool] = Batcher(self._record_keys, name="worker.keys")
        self._reporting: Batcher[tuple[_Job, _Delivered, bool], None] = Batcher(
            self._record_sent_batch, name="worker.sent"
        )

    async def send(self, command: SendMessage, *, cause: uuid.UUID) -> None:
        """Settle one delivery of a command: returns when it may be acked, raises to retry."""
        if not 0 < len(command.idempotency_key) <= KEY_LIMIT:
            raise PermanentError(f"idempotency_key must be 1 to {KEY_LIMIT} characters")
        job = _Job(command, cause)
        self._in_flight += 1
        self._idle.clear()
        try:
            async with self._exclusive(command.idempotency_key):
                if await self._record_sending(command):
                    await self._deliver(job, unclear=False)
                else:
                    await self._settle(job)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def finish(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for the sends in flight, before the client is closed:
        each then ends as sent or failed instead of being cut off mid-call."""
        if not await wait_at_most(self._idle.wait(), grace):
            running, account = self._in_flight, self._account_id
            log.warning("%d send(s) still running as account %s stops", running, account)

    @asynccontextmanager
    async def _exclusive(self, key: str) -> AsyncIterator[None]:
        while (busy := self._busy.get(key)) is not None:
            await busy.wait()
        done = self._busy[key] = asyncio.Event()
        try:
            yield
        finally:
            del self._busy[key]
            done.set()

    async def _record_sending(self, command: SendMessage) -> bool:
        """Record the key before anything is sent; True when this handler made the row."""
        return await self._recording.submit(command)

    async def _record_keys(self, batch: Sequence[SendMessage]) -> list[bool]:
        rows = [
            {
                "idempotency_key": command.idempotency_key,
                "account_id": self._account_id,
                "peer_user_id": command.peer_user_id,
                "status": SENDING,
            }
            for command in batch
        ]
        async with self._db.transaction() as session:
            made = await insert_ignore_many(session, SentKey, rows, returning=("idempotency_key",))
        keys = {row.idempotency_key for row in made}
        return [command.idempotency_key in keys for command in batch]

    async def _settle(self, job: _Job) -> None:
        """The key was seen before: finish what its first delivery left undone."""
        row = await self._settled_row(job.command.idempotency_key)
        if row.status == SENT and row.telegram_message_id is not None:
            sent_at = _aware(row.sent_at or row.recorded_at)
            await self._record_sent(job, _Delivered(row.telegram_message_id, sent_at), again=True)
        elif row.status == SENDING:
            log.warning("send %s was left unfinished; reconciling", job.command.idempotency_key)
            await self._deliver(job, unclear=True)
        # FAILED: that delivery already announced why; sending now would surprise everyone

    async def _settled_row(self, key: str) -> SentKey:
        """The key's row once it is no longer "sending", or after the settle time if it stays
        so (its sender died)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settle_seconds
        while True:
            async with self._db.session() as session:
                row = await session.scalar(select(SentKey).where(SentKey.idempotency_key == key))
            assert row is not None  # noqa: S101 - rows are never deleted
            if row.status != SENDING or loop.time() >= deadline:
                return row
            await asyncio.sleep(SETTLE_POLL)

    async def _deliver(self, job: _Job, *, unclear: bool) -> None:
        """Send (FloodWait waited out in between tries) and record how it ended."""
        attempts = _Attempts(unclear)
        try:
            delivered = await self._retry(lambda: self._attempt(job.command, attempts))
        except TelegramError as exc:
            await self._refused(job, exc)
            return
        await self._record_sent(job, delivered)

    async def _attempt(self, command: SendMessage, attempts: _Attempts) -> _Delivered:
        if (loss := self._loss.loss) is not None:
            raise AccountGone(loss)
        await self._flood_pause()
        if attempts.unclear and (earlier := await self._find_sent(command)) is not None:
            return earlier
        if command.scene is not None and not attempts.typed:
            attempts.typed = True
            await show_typing(self._client, command)
        try:
            sent = await self._send_once(command, attempts)
        except TelegramUnavailable:
            attempts.unclear = True  # the request may have arrived before the connection broke
            raise
        except FloodWait as wait:
            loop = asyncio.get_running_loop()
            self._flood_until = max(self._flood_until, loop.time() + wait.seconds)
            if wait.seconds > self._flood_wait_hold:
                raise Deferred(wait.seconds, told=wait.seconds) from wait
            raise  # waited out by the worker's retry
        return _Delivered(sent.message_id, utcnow())

    async def _send_once(self, command: SendMessage, attempts: _Attempts) -> SentMessage:
        if command.scene is None:
            return await to_peer(
                command, lambda peer: self._client.send_message(peer, command.text)
            )
        return await send_scene_line(self._client, command, attempts)

    async def _flood_pause(self) -> None:
        """Wait out the rest of a FloodWait another send ran into; hand back a long one."""
        left = self._flood_until - asyncio.get_running_loop().time()
        if left > self._flood_wait_hold:
            raise Deferred(left)
        if left > 0:
            await asyncio.sleep(left)

    async def _find_sent(self, command: SendMessage) -> _Delivered | None:
        """This text among the account's latest messages to the peer."""
        try:
            recent = await to_peer(
                command, lambda peer: self._client.recent_outgoing(peer, RECENT_LIMIT)
            )
        except (ChatNotFound, WriteForbidden):
            return None  # no dialog this account can read, so nothing of ours in it
        text = command.text.strip()
        found = next((m for m in recent if m.text.strip() == text), None)
        if found is None:
            return None
        log.info("send %s had gone out before; not sent again", command.idempotency_key)
        return _Delivered(found.message_id, datetime.fromtimestamp(found.date_ts, UTC))

    async def _refused(self, job: _Job, exc: TelegramError) -> None:
        """Telegram said no: record and announce why, or raise what a redelivery may fix."""
        if isinstance(exc, AccountGone):
            await self._record_failed(job, exc.loss.failure, str(exc))
        elif isinstance(exc, Deferred):
            note = self._flood_note(exc.told) if exc.told is not None else None
            await self._record_failed(
                job, "flood_wait", str(exc), retry_after=exc.retry_after, note=note
            )
        elif isinstance(exc, PeerFlood):
            note = self._peer_flood_note(str(exc))
            await self._record_failed(job, "peer_flood", str(exc), note=note)
        elif isinstance(exc, TelegramUnavailable) and (lost := self._loss.loss) is not None:
            # The worker stopped for the loss and closed the client under this send: the
            # account can send nothing any more, so the manager re-routes the message.
            await self._record_failed(job, lost.failure, f"account {lost.status}: {lost.reason}")
        elif (loss := AccountLoss.of(exc)) is not None:
            await self._record_failed(job, loss.failure, str(exc), loss=loss)
        elif isinstance(exc, WriteForbidden):
            await self._record_failed(job, "forbidden", str(exc))
        elif isinstance(exc, ChatNotFound):
            await self._record_failed(job, "not_found", str(exc))
        elif isinstance(exc, AttachmentMissing):
            await self._record_failed(job, "attachment_missing", str(exc))
        else:
            raise exc  # unknown: the key stays "sending" and the redelivery reconciles

    async def _record_failed(
        self,
        job: _Job,
        reason: SendFailure,
        detail: str,
        *,
        loss: AccountLoss | None = None,
        retry_after: datetime | None = None,
        note: Note | None = None,
    ) -> None:
        command = job.command
        log.warning("send %s failed: %s (%s)", command.idempotency_key, reason, detail)
        payload = SendFailed(
            idempotency_key=command.idempotency_key,
            account_id=self._account_id,
            conversation_id=command.conversation_id,
            message_id=command.message_id,
            peer_user_id=command.peer_user_id,
            reason=reason,
            detail=detail[:DETAIL_LIMIT],
            retry_after=retry_after,
            run_id=command.scene.run_id if command.scene else None,
        )
        async with self._db.transaction() as session:
            if loss is not None:
                await record_loss(session, self._account_id, loss)
            if note is not None:
                await note(session)
            await self._set_key(session, command.idempotency_key, status=FAILED)
            await self._announce(session, job, payload)
        self._relay.poke()
        telegram_health_metrics.sends(self._account_id, reason)
        if loss is not None:
            self._loss.set(loss)  # only after the commit: a failed commit is retried whole

    def _flood_note(self, seconds: int) -> Note:
        return lambda session: record_flood_wait(session, self._account_id, seconds)

    def _peer_flood_note(self, detail: str) -> Note:
        cooldown = self._peer_flood_cooldown
        return lambda session: record_peer_flood(session, self._account_id, cooldown, detail)

    async def _record_sent(self, job: _Job, delivered: _Delivered, *, again: bool = False) -> None:
        await self._reporting.submit((job, delivered, again))

    async def _record_sent_batch(
        self, batch: Sequence[tuple[_Job, _Delivered, bool]]
    ) -> list[None]:
        """Keys ``sent`` and ``message.sent`` announced: two statements for the batch."""
        keys = [
            {
                "b_key": job.command.idempotency_key,
                "b_message_id": delivered.message_id,
                "b_sent_at": delivered.sent_at,
            }
            for job, delivered, again in batch
            if not again
        ]
        events = [
            (
                Event.of(payload := self._sent_payload(job, delivered), correlation_id=job.cause),
                _result_key(job.command, payload),
            )
            for job, delivered, _ in batch
        ]
        async with self._db.transaction() as session:
            if keys:
                await session.execute(_MARK_SENT, keys)
            await add_many_to_outbox(session, events)
        self._relay.poke()
        telegram_health_metrics.sends(self._account_id, "sent", len(keys))
        return [None] * len(batch)

    def _sent_payload(self, job: _Job, delivered: _Delivered) -> MessageSent:
        command = job.command
        return MessageSent(
            idempotency_key=command.idempotency_key,
            account_id=self._account_id,
            conversation_id=command.conversation_id,
            message_id=command.message_id,
            peer_user_id=command.peer_user_id,
            telegram_message_id=delivered.message_id,
            sent_at=delivered.sent_at,
            run_id=command.scene.run_id if command.scene else None,
        )

    @staticmethod
    async def _set_key(session: AsyncSession, key: str, **values: object) -> None:
        await session.execute(
            update(SentKey).where(SentKey.idempotency_key == key).values(**values)
        )

    @staticmethod
    async def _announce(session: AsyncSession, job: _Job, payload: Payload) -> None:
        event = Event.of(payload, correlation_id=job.cause)
        await add_to_outbox(session, event, routing_key=_result_key(job.command, payload))
