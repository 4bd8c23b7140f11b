"""Chat activity: how many messages the parser read and matched per chat per UTC day, and a
bounded sample of each chat's recent messages (for a keyword set's "try it" on real traffic).

The chat stream is the parser's hot path, so a message only bumps counters in memory; a flush
every few seconds (and one on shutdown) writes them in one transaction: the day counts as one
upsert adding to what is stored, the new samples as one insert, then each touched chat's sample
is trimmed to the newest ``sample_size``. A flush that fails keeps its tallies for the next one.
A redelivered message is counted again: these are traffic figures, not a ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import cast

from prometheus_client import Counter
from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.db.models import ChatDailyCount, ChatSample
from core.db.upsert import insert_ignore_many, upsert_adding
from core.events import MessageIncoming

log = logging.getLogger(__name__)
FLUSHES = Counter("coolthing_parser_activity_flushes_total", "Chat activity flushes", ["outcome"])
SAMPLE_TEXT_CAP = 280  # characters kept of a sampled message: enough to try keywords on
FLUSH_EVERY = 5.0  # seconds


@dataclass
class _Tally:
    """What accumulated since the last flush."""

    counts: dict[tuple[int, date], list[int]] = field(default_factory=dict)
    samples: dict[int, deque[tuple[int, str, datetime]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.counts or self.samples)


class ChatActivity:
    def __init__(self, db: Database, *, sample_size: int, flush_every: float = FLUSH_EVERY) -> None:
        if sample_size < 0:
            raise ValueError(f"sample_size must not be negative, got {sample_size}")
        self._db = db
        self._sample_size = sample_size
        self._flush_every = flush_every
        self._tally = _Tally()
        self._flushing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def note(self, message: MessageIncoming, *, matched: bool) -> None:
        """Count one chat message (and keep it for the sample); memory only, no I/O."""
        moment = message.date if message.date.tzinfo else message.date.replace(tzinfo=UTC)
        day = moment.astimezone(UTC).date()  # chat_daily_counts are UTC days
        counts = self._tally.counts.setdefault((message.chat_id, day), [0, 0])
        counts[0] += 1
        counts[1] += matched
        text = message.text.strip()
        if text and self._sample_size:
            kept = self._tally.samples.get(message.chat_id)
            if kept is None:  # only the newest ``sample_size`` could survive the trim anyway
                kept = self._tally.samples[message.chat_id] = deque(maxlen=self._sample_size)
            kept.append((message.message_id, text[:SAMPLE_TEXT_CAP], moment))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="parser-chat-activity")

    async def stop(self) -> None:
        """Stop the periodic flush and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_every)
            try:
                await self.flush()
            except Exception:  # the database is away: keep counting, try again next time
                log.exception("chat activity not written; kept for the next flush")

    async def flush(self) -> None:
        """Write what accumulated, in one transaction; on failure it is kept for the next."""
        async with self._flushing:
            tally, self._tally = self._tally, _Tally()
            if not tally:
                return
            try:
                async with self._db.transaction() as session:
                    await _write(session, tally, self._sample_size)
            except BaseException:
                self._merge_back(tally)
                FLUSHES.labels("failed").inc()
                raise
            FLUSHES.labels("written").inc()

    def _merge_back(self, old: _Tally) -> None:
        for key, (messages, matched) in old.counts.items():
            counts = self._tally.counts.setdefault(key, [0, 0])
            counts[0] += messages
            counts[1] += matched
        for chat_id, kept in old.samples.items():
            newer = self._tally.samples.get(chat_id, ())
            self._tally.samples[chat_id] = deque([*kept, *newer], maxlen=self._sample_size)


async def _write(session: AsyncSession, tally: _Tally, sample_size: int) -> None:
    rows = [
        {"telegram_chat_id": chat_id, "day": day, "messages": counts[0], "matched": counts[1]}
        for (chat_id, day), counts in tally.counts.items()
    ]
    await upsert_adding(
        session, ChatDailyCount, rows, key=("telegram_chat_id", "day"), add=("messages", "matched")
    )
    samples = [
        {"telegram_chat_id": chat_id, "message_id": message_id, "text": text, "at": at}
        for chat_id, kept in tally.samples.items()
        for message_id, text, at in kept
    ]
    await insert_ignore_many(session, ChatSample, samples)
    if tally.samples:
        trims = [{"chat": chat_id, "keep": sample_size} for chat_id in tally.samples]
        await session.execute(_TRIM, trims)


# The newest ``sample_size`` of a chat stay: everything at or below the id of the one just past
# them goes (the (chat, id) index finds it without reading the chat's whole sample).
# On the Core table, so that many chats' trims go as one executemany, with no ORM bookkeeping.
_SAMPLES = cast(Table, ChatSample.__table__)
_CUTOFF = (
    select(_SAMPLES.c.id)
    .where(_SAMPLES.c.telegram_chat_id == bindparam("chat"))
    .order_by(_SAMPLES.c.id.desc())
    .offset(bindparam("keep"))
    .limit(1)
    .scalar_subquery()
)
_TRIM = delete(_SAMPLES).where(
    _SAMPLES.c.telegram_chat_id == bindparam("chat"), _SAMPLES.c.id <= _CUTOFF
)
