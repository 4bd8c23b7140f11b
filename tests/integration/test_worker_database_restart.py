"""A PostgreSQL restart under a running account worker (found by the chaos run, issue 14: the
parser account's worker exited with code 2 at every restart — its resume cursor, saved every
2 s, raised — and only came back because the watchdog counted a crash and started it again; a few
restarts in a quarter of an hour would quarantine every reading account). The worker keeps
running and keeps publishing what it hears. The database is a private PostgreSQL cluster."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from bench.private_services import PrivatePostgres, open_private_postgres
from core.bus.memory import InMemoryBus
from core.chat_batch import ChatMessages
from core.db import Database
from core.db.migrate import upgrade
from core.db.models import Account
from core.events import Event
from core.security import SecretBox
from sandbox.bootstrap import RunningSandbox
from tests.integration.conftest import parser_worker, sandbox_api

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.timeout(180)]


@pytest.fixture
async def postgres() -> AsyncIterator[PrivatePostgres]:
    async with open_private_postgres() as server:
        yield server


async def _until(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    for _ in range(int(seconds / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_running_worker_outlives_a_database_restart_and_keeps_publishing(
    postgres: PrivatePostgres, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    db = Database(postgres.url)
    bus = InMemoryBus(url=f"memory://{tmp_path.name}")
    box = SecretBox(Fernet.generate_key())
    heard: list[str] = []

    async def collect(event: Event) -> None:
        heard.extend(m.text for m in event.payload_as(ChatMessages).messages)

    task: asyncio.Task[None] | None = None
    try:
        await upgrade(db)
        await bus.start()
        await bus.subscribe("test.heard", [ChatMessages.NAME], collect)
        worker, _ = await parser_worker(db, box, sandbox, tmp_path, bus)
        task = asyncio.create_task(worker.run())

        async def joined() -> bool:
            listed = (await sandbox_api(sandbox, "/_sandbox/chats"))["chats"]
            assert isinstance(listed, list)
            return any(c["members"] for c in listed)

        await _until(joined, 20, "the worker to join its chat")

        async def post(text: str) -> None:
            body = {"chat": "jobs_chat", "text": text, "user": {"first_name": "Anna"}}
            await sandbox_api(sandbox, "/_sandbox/post", body)

        await post("before the restart")
        await _until(lambda: _true(heard == ["before the restart"]), 10, "the first message")
        await postgres.stop("immediate")
        await post("during the restart")  # the cursor moves: saving it fails meanwhile
        await asyncio.sleep(4.5)  # two of the worker's cursor saves
        assert not task.done(), f"the worker stopped: {task.exception()!r}"
        await postgres.start()
        await post("after the restart")
        await _until(lambda: _true("after the restart" in heard), 15, "a message after it")
        assert not task.done()

        async def cursor_saved() -> bool:  # the resume point moves again once it is back
            async with db.session() as session:
                query = select(Account.updates_cursor).where(Account.id == 1)
                return await session.scalar(query) is not None

        await _until(cursor_saved, 10, "the cursor saved after the restart")
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await bus.close()
        await db.close()


async def _true(value: bool) -> bool:
    return value
