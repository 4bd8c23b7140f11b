"""A command to an account whose worker has never run is kept for it, not dropped as unroutable:
the parser declares the account's queue before its ``command.join_chats`` commits."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest

from admin.workspace.apply import apply_workspace, read_workspace
from core.bus import Bus
from core.bus.factory import make_bus
from core.db import Database
from core.events import Event, JoinChats
from core.outbox import OutboxRelay
from core.security import SecretBox
from core.topology import account_bindings, account_queue
from parser.assignments import ChatAssigner

WORKSPACE = """\
accounts:
  - {name: parser-1, role: parser, session: s1}
keyword_sets:
  - {name: web-dev, keywords: [разработчик]}
campaigns:
  - {name: web, keyword_sets: [web-dev], chats: ["@jobs", "@dev_chat"], parser_accounts: [parser-1]}
"""


@pytest.fixture(params=["memory", "rabbit"])
async def bus(request: pytest.FixtureRequest, amqp_url: str) -> AsyncIterator[Bus]:
    exchange = f"test-commands-{uuid.uuid4().hex[:12]}"
    url = "memory://" if request.param == "memory" else amqp_url
    bus = make_bus(url, exchange=exchange)
    await bus.start()
    yield bus
    await bus.close()
    if request.param == "rabbit":
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(account_queue(1))
            await channel.queue_delete(f"{account_queue(1)}.dlq")
            await channel.exchange_delete(exchange)


async def test_join_chats_for_a_worker_that_never_ran_waits_in_its_queue(
    database: Database, bus: Bus, secret_box: SecretBox, tmp_path: Path
) -> None:
    path = tmp_path / "ws.yaml"
    path.write_text(WORKSPACE, encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    relay = OutboxRelay(database, bus)

    assert await ChatAssigner(database, bus, relay).rebalance() == {1: [1, 2]}
    await relay.publish_pending()  # config.changed (nobody listens here) and the command

    got: asyncio.Queue[Event] = asyncio.Queue()
    await bus.subscribe(account_queue(1), account_bindings(1), got.put)  # the worker starts
    command = (await asyncio.wait_for(got.get(), timeout=10)).payload_as(JoinChats)
    assert sorted(command.chat_refs) == ["@dev_chat", "@jobs"]
