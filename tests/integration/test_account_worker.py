"""The account worker against an in-process sandbox: FloodWait is waited out, a ban is recorded and
announced, and what the worker hears becomes message.incoming."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from core.bus.memory import InMemoryBus
from core.chat_batch import ChatMessages
from core.db import Database
from core.db.models import Account, OutboxMessage
from core.events import Event, MessageIncoming
from core.security import SecretBox
from core.topology import DM_ROUTING_KEY
from sandbox.bootstrap import RunningSandbox
from tests.integration.conftest import parser_worker, sandbox_api


@pytest.fixture
async def bus(tmp_path: Path) -> AsyncIterator[InMemoryBus]:
    memory = InMemoryBus(url=f"memory://{tmp_path.name}")
    await memory.start()
    yield memory
    await memory.close()


async def _members(sandbox: RunningSandbox) -> set[int]:
    async with aiohttp.ClientSession() as http, http.get(sandbox.url + "/_sandbox/chats") as r:
        chats = (await r.json())["chats"]
    return {m for c in chats for m in c["members"]}


async def _until_joined(sandbox: RunningSandbox, user_id: int) -> None:
    async def joined() -> bool:
        return user_id in await _members(sandbox)

    await _until(joined, 10)


async def _until(check: Callable[[], Awaitable[bool]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_flood_wait_on_join_is_waited_out_then_the_chat_is_joined(
    database: Database,
    secret_box: SecretBox,
    sandbox: RunningSandbox,
    bus: InMemoryBus,
    tmp_path: Path,
) -> None:
    worker, user_id = await parser_worker(database, secret_box, sandbox, tmp_path, bus)
    fault = {"kind": "flood_wait", "account": user_id, "seconds": 1, "operation": "join"}
    await sandbox_api(sandbox, "/_sandbox/faults", fault)
    started = time.monotonic()
    task = asyncio.create_task(worker.run())

    await _until_joined(sandbox, user_id)
    assert time.monotonic() - started >= 1.0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_heard_chat_messages_reach_the_parser_in_a_batch_with_their_profile(
    database: Database,
    secret_box: SecretBox,
    sandbox: RunningSandbox,
    bus: InMemoryBus,
    tmp_path: Path,
) -> None:
    heard: list[MessageIncoming] = []

    async def collect(event: Event) -> None:
        heard.extend(event.payload_as(ChatMessages).messages)

    await bus.subscribe("test.heard", [ChatMessages.NAME], collect)
    worker, user_id = await parser_worker(database, secret_box, sandbox, tmp_path, bus)
    task = asyncio.create_task(worker.run())

    await _until_joined(sandbox, user_id)
    author = {"first_name": "Anna", "username": "anna_dev", "bio": "Coffee and code"}
    post = {"chat": "jobs_chat", "text": "Looking for a developer", "user": author}
    await sandbox_api(sandbox, "/_sandbox/post", post)

    async def arrived() -> bool:
        return bool(heard)

    await _until(arrived, 10)
    [message] = heard
    assert message.chat_ref == "@jobs_chat"
    assert message.sender.bio == "Coffee and code"
    assert message.link is not None and message.link.endswith(f"/{message.message_id}")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_burst_of_chat_messages_goes_out_as_few_bus_messages_each_message_once_in_order(
    database: Database,
    secret_box: SecretBox,
    sandbox: RunningSandbox,
    bus: InMemoryBus,
    tmp_path: Path,
) -> None:
    batches: list[list[str]] = []
    dms: list[str] = []

    async def collect(event: Event) -> None:
        batches.append([m.text for m in event.payload_as(ChatMessages).messages])

    async def collect_dm(event: Event) -> None:
        dms.append(event.payload_as(MessageIncoming).text)

    await bus.subscribe("test.heard", [ChatMessages.NAME], collect)
    await bus.subscribe("test.dms", [DM_ROUTING_KEY], collect_dm)
    worker, user_id = await parser_worker(
        database, secret_box, sandbox, tmp_path, bus, chat_batch_delay=0.5
    )
    task = asyncio.create_task(worker.run())

    await _until_joined(sandbox, user_id)
    texts = [f"message {n}" for n in range(30)]
    anna: object = None
    for text in texts:  # one after another: the chat's order is the posting order
        body = {"chat": "jobs_chat", "text": text, "user": {"first_name": "Anna"}}
        posted = await sandbox_api(sandbox, "/_sandbox/post", body)
        anna = posted["message"]["sender"]["user_id"]
    dm = {"user_id": anna, "to": user_id, "text": "hi there"}
    await sandbox_api(sandbox, "/_sandbox/dm", dm)

    async def arrived() -> bool:
        return sum(map(len, batches)) >= len(texts) and bool(dms)

    await _until(arrived, 10)
    assert [text for batch in batches for text in batch] == texts
    assert len(batches) <= 3, f"{len(texts)} messages took {len(batches)} bus messages"
    assert dms == ["hi there"], "a DM still travels alone, to the manager's key"
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_ban_marks_the_account_and_announces_it(
    database: Database,
    secret_box: SecretBox,
    sandbox: RunningSandbox,
    bus: InMemoryBus,
    tmp_path: Path,
) -> None:
    worker, user_id = await parser_worker(database, secret_box, sandbox, tmp_path, bus)
    await sandbox_api(sandbox, "/_sandbox/faults", {"kind": "ban", "account": user_id})
    await asyncio.wait_for(worker.run(), 15)  # returns by itself: the account is unusable
    async with database.session() as session:
        account = await session.get(Account, 1)
        events = [
            json.loads(row.body)
            for row in await session.scalars(
                select(OutboxMessage).where(OutboxMessage.routing_key == "account.banned")
            )
        ]
    assert account is not None and account.status == "banned"
    assert [e["payload"]["account_id"] for e in events] == [1]
