"""Chat activity through the parser's bootstrap: messages read and matched per chat per UTC day,
and a bounded sample of each chat's recent messages, written in batches (never per message)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from admin.workspace.apply import apply_workspace, read_workspace
from core.bus.memory import InMemoryBus
from core.db import Database
from core.db.models import ChatDailyCount, ChatSample
from core.events import Event, MessageIncoming, Profile
from core.outbox import OutboxRelay
from core.platform import Platform
from core.security import SecretBox
from core.settings import Settings
from parser.activity import SAMPLE_TEXT_CAP
from parser.bootstrap import RunningParser, start_parser

WORKSPACE = """\
accounts:
  - {name: parser-1, role: parser, session: s1}
keyword_sets:
  - {name: web-dev, keywords: [разработчик]}
campaigns:
  - {name: web, keyword_sets: [web-dev], chats: ["@jobs", "@talk"], parser_accounts: [parser-1]}
"""
JOBS, TALK = -1001, -1002
SAMPLE = 5


@pytest.fixture
async def running(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> AsyncIterator[tuple[Platform, RunningParser]]:
    path = tmp_path / "ws.yaml"
    path.write_text(WORKSPACE, encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    bus = InMemoryBus(f"memory://activity-{tmp_path.name}")
    await bus.start()
    settings = Settings(chat_sample_size=SAMPLE)
    platform = Platform(settings, database, bus, secret_box, OutboxRelay(database, bus))
    service = await start_parser(platform)
    try:
        yield platform, service
    finally:
        await service.stop()
        await bus.close()


def _read() -> float:
    return sum(
        REGISTRY.get_sample_value("coolthing_parser_messages_total", {"outcome": outcome}) or 0.0
        for outcome in ("match", "no_match", "unknown_chat", "no_text")
    )


async def _send(platform: Platform, messages: list[tuple[int, str, int, datetime]]) -> None:
    """Publish chat messages (chat, text, message id, date) and wait until the parser has
    handled every one."""
    before = _read()
    for chat_id, text, message_id, when in messages:
        payload = MessageIncoming(
            account_id=1,
            chat_id=chat_id,
            chat_ref="@jobs" if chat_id == JOBS else "@talk",
            message_id=message_id,
            text=text,
            date=when,
            sender=Profile(user_id=100 + message_id, username=None, first_name="Анна"),
        )
        await platform.bus.publish(Event.of(payload))
    for _ in range(200):
        if _read() - before >= len(messages):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the parser handled {_read() - before} of {len(messages)}")


async def _counts(db: Database) -> dict[tuple[int, str], tuple[int, int]]:
    async with db.session() as session:
        rows = await session.execute(select(ChatDailyCount))
        return {
            (r.telegram_chat_id, r.day.isoformat()): (r.messages, r.matched) for r in rows.scalars()
        }


async def _samples(db: Database, chat_id: int) -> list[tuple[int, str]]:
    async with db.session() as session:
        rows = await session.execute(
            select(ChatSample.message_id, ChatSample.text)
            .where(ChatSample.telegram_chat_id == chat_id)
            .order_by(ChatSample.id)
        )
        return [(r.message_id, r.text) for r in rows]


async def test_messages_are_counted_per_chat_and_day_and_written_in_one_batch(
    running: tuple[Platform, RunningParser],
) -> None:
    platform, service = running
    now = datetime.now(UTC)
    yesterday = now - timedelta(days=1)
    messages = [(JOBS, f"Ищу разработчика, заказ {n}", n, now) for n in range(1, 4)]
    messages += [(JOBS, f"Просто болтаем {n}", n, now) for n in range(4, 11)]
    messages += [(TALK, "Кто знает разработчика?", 1, yesterday), (TALK, "", 2, now)]
    await _send(platform, messages)

    assert await _counts(platform.db) == {}  # nothing yet: not a write per message
    await service.stop()  # what shutting down does: the tallies go in one flush

    assert await _counts(platform.db) == {
        (JOBS, now.date().isoformat()): (10, 3),
        (TALK, yesterday.date().isoformat()): (1, 1),
        (TALK, now.date().isoformat()): (1, 0),  # read, though it has no text to sample
    }
    assert [m for m, _ in await _samples(platform.db, TALK)] == [1]

    # the next batch adds to the day's counts rather than replacing them
    await _send(platform, [(JOBS, "Нужен разработчик", 11, now)])
    await service.stop()
    assert (await _counts(platform.db))[(JOBS, now.date().isoformat())] == (11, 4)


async def test_the_sample_keeps_only_each_chats_newest_messages_cut_short(
    running: tuple[Platform, RunningParser],
) -> None:
    platform, service = running
    now = datetime.now(UTC)
    long_text = "Ищу разработчика. " + "Очень длинное описание задачи. " * 60
    await _send(platform, [(JOBS, f"сообщение {n}", n, now) for n in range(1, 9)])
    await service.stop()
    await _send(platform, [(JOBS, long_text, 9, now), (JOBS, "сообщение 10", 10, now)])
    await service.stop()

    kept = await _samples(platform.db, JOBS)
    assert sorted(m for m, _ in kept) == [6, 7, 8, 9, 10]  # the newest SAMPLE of ten
    text = dict(kept)[9]
    assert len(text) == SAMPLE_TEXT_CAP and long_text.startswith(text)
    async with platform.db.session() as session:
        total = await session.scalar(select(func.count()).select_from(ChatSample))
    assert total == SAMPLE


async def test_tallies_are_flushed_every_few_seconds_while_running(
    running: tuple[Platform, RunningParser],
) -> None:
    platform, _ = running
    now = datetime.now(UTC)
    await _send(platform, [(JOBS, "Ищу разработчика", 1, now), (JOBS, "привет", 2, now)])
    for _ in range(80):  # the flush runs every 5 s
        if await _counts(platform.db):
            break
        await asyncio.sleep(0.1)
    assert await _counts(platform.db) == {(JOBS, now.date().isoformat()): (2, 1)}
