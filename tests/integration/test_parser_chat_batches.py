"""Chat messages reach the parser in batches (``message.incoming.batch``), through its real
bootstrap on RabbitMQ and PostgreSQL: a batch's hits become leads, each once; a message the
database refuses is dead-lettered alone while the rest of its batch is recorded; a NUL, which
PostgreSQL refuses in text, is dropped from a message instead of stalling its lead or the chat's
activity."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.bus import Bus
from core.bus.factory import make_bus
from core.chat_batch import ChatMessages
from core.db import Database
from core.db.models import ChatSample, Lead, LeadHit
from core.events import Event, MessageIncoming, Profile
from core.outbox import OutboxRelay
from core.platform import Platform
from core.security import SecretBox
from core.settings import Settings
from core.topology import PARSER_MESSAGES, SERVICE_QUEUES
from parser.bootstrap import RunningParser, start_parser
from tests.conftest import delete_exchange, delete_queues, eventually
from tests.integration.conftest import apply_workspace_text, jobs_chat_message

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(120),
    # A username past its column's 64 characters is what PostgreSQL refuses (SQLite stores it):
    # the poison of the split test (Telegram's are at most 32; a forged update's need not be).
    pytest.mark.parametrize("database", ["postgresql"], indirect=True),
]

WORKSPACE = """\
accounts: [{name: parser-1, role: parser, session: s1}]
keyword_sets: [{name: web, keywords: [developer]}]
campaigns: [{name: web, keyword_sets: [web], chats: ["@jobs_chat"], parser_accounts: [parser-1]}]
"""


@dataclass
class Parser:
    bus: Bus
    db: Database
    running: RunningParser

    async def publish(self, texts: list[tuple[int, str]], *, long_name: int = 0) -> Event:
        """One batch of @jobs_chat messages, (sender, text) each, message ids 1, 2, …; the
        sender ``long_name`` has a username of 65 characters."""
        messages = [
            jobs_chat_message(n, text, user=user).payload_as(MessageIncoming)
            for n, (user, text) in enumerate(texts, start=1)
        ]
        messages = [
            m.model_copy(update={"sender": Profile(user_id=long_name, username="x" * 65)})
            if m.sender.user_id == long_name
            else m
            for m in messages
        ]
        event = Event.of(ChatMessages(messages=messages))
        await self.bus.publish(event)
        return event

    async def hits(self) -> list[tuple[int, int]]:
        """(Telegram user, message id) of every lead hit recorded."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(Lead.telegram_user_id, LeadHit.message_id)
                .join(Lead, Lead.id == LeadHit.lead_id)
                .order_by(LeadHit.message_id)
            )
            return [(int(user), int(message)) for user, message in rows]


@pytest.fixture
async def parser(
    database: Database, secret_box: SecretBox, tmp_path: Path, amqp_url: str
) -> AsyncIterator[Parser]:
    # The stage off: keywords alone decide, so every matching message is a lead to write.
    await apply_workspace_text(database, secret_box, tmp_path, WORKSPACE, intent={"enabled": False})
    await delete_queues(amqp_url, list(SERVICE_QUEUES))
    exchange = f"batches-{uuid.uuid4().hex[:12]}"
    bus = make_bus(amqp_url, exchange=exchange, retry_delay=0.02)
    await bus.start()
    platform = Platform(Settings(), database, bus, secret_box, OutboxRelay(database, bus))
    running: RunningParser = await start_parser(platform)
    try:
        yield Parser(bus, database, running)
    finally:
        await running.stop()
        await bus.close()
        await delete_queues(amqp_url, list(SERVICE_QUEUES))
        await delete_exchange(amqp_url, exchange)


async def test_a_batch_makes_a_lead_of_each_matching_message_and_nothing_of_the_rest(
    parser: Parser,
) -> None:
    texts = [(100 + n, f"chatter number {n}") for n in range(20)]
    texts[3] = (7, "need a developer for a landing page")
    texts[11] = (8, "any developer free this week?")
    texts[17] = (7, "still looking for a developer")  # the same person again: one lead, two hits
    await parser.publish(texts)

    async def recorded() -> list[tuple[int, int]] | None:
        hits = await parser.hits()
        return hits if len(hits) >= 3 else None

    assert await eventually(recorded, what="the batch's hits") == [(7, 4), (8, 12), (7, 18)]
    async with parser.db.session() as session:
        leads = await session.scalars(select(Lead.telegram_user_id).order_by(Lead.id))
        assert list(leads) == [7, 8]
        assert await session.scalar(select(Lead.hits).where(Lead.telegram_user_id == 7)) == 2


async def test_a_message_the_database_refuses_is_dead_lettered_alone_and_its_batch_mates_are_leads(
    parser: Parser,
) -> None:
    texts = [(200 + n, f"looking for a developer, message {n}") for n in range(8)]
    await parser.publish(texts, long_name=205)  # the sixth message's lead cannot be stored

    async def dead() -> list[str] | None:
        letters = await parser.bus.dead_letters(PARSER_MESSAGES)
        return [letter.body for letter in letters] or None

    [body] = await eventually(dead, seconds=60, what="the refused message's dead letter")
    refused = Event.model_validate_json(body).payload_as(ChatMessages).messages
    assert [m.message_id for m in refused] == [6], "only the refused message, in a batch of one"
    hits = await parser.hits()
    assert [message for _, message in hits] == [1, 2, 3, 4, 5, 7, 8]
    async with parser.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(LeadHit)) == 7


async def test_a_nul_in_a_chat_message_is_dropped_and_the_lead_and_the_chat_activity_are_written(
    parser: Parser,
) -> None:
    await parser.publish([(300, "looking for a developer\x00 today")])

    async def recorded() -> list[tuple[int, int]] | None:
        return await parser.hits() or None

    assert await eventually(recorded, what="the lead") == [(300, 1)]
    async with parser.db.session() as session:
        text = await session.scalar(select(Lead.text))
        assert text == "looking for a developer today"
    await parser.running.service.stop()  # writes the chat activity kept in memory
    async with parser.db.session() as session:
        assert await session.scalar(select(ChatSample.text)) == "looking for a developer today"
