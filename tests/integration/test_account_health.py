"""Account health as the bots service writes it (SQLite and PostgreSQL): a FloodWait and a
PeerFlood go on the account with an event, a PeerFlood limits the account instead of banning it,
a ban and an unreachable proxy go into the account's history, and a worker that stops for a ban
fails the send it cut off, so the manager can re-route it. What the manager does with it:
``test_account_health_manager.py``.

Workers come from ``bots.bootstrap`` against the in-process sandbox and its fault injection."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from telethon.crypto import AuthKey
from telethon.sessions import StringSession

from bots.bootstrap import build_worker
from bots.sandbox_client import SandboxAccountClient, SandboxUnavailable
from bots.worker import AccountWorker
from core.bus.memory import InMemoryBus
from core.db import Database
from core.db.models import Account, AccountEvent, SentKey
from core.events import (
    AccountBanned,
    Event,
    MessageSent,
    SendFailed,
    SendMessage,
    account_routing_key,
)
from core.outbox import OutboxRelay
from core.platform import Platform
from core.security import SecretBox
from core.settings import Settings
from core.telegram import AccountClient, SentMessage, TelegramError
from core.topology import account_queue
from sandbox.bootstrap import RunningSandbox

pytestmark = pytest.mark.timeout(60)
TEXT = "Hi Lena! Saw your post in the jobs chat - still looking for a developer?"


async def _call(sandbox: RunningSandbox, path: str, body: object) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.post(sandbox.url + path, json=body) as r:
        payload: dict[str, Any] = await r.json()
    assert payload["ok"], payload
    return payload


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def _near(moment: datetime | None, expected: datetime, seconds: float = 5) -> bool:
    assert moment is not None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite drops the zone
    return abs((aware - expected).total_seconds()) <= seconds


# ---- the bots service ---------------------------------------------------------------------------


@dataclass
class Bots:
    """One manager account (database row + sandbox account), two people it may write to, the
    platform a worker is built on, and what reached the manager's side of the bus."""

    platform: Platform
    sandbox: RunningSandbox
    account_id: int
    account_user_id: int
    leads: list[int]
    results: list[Event] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self, worker: AccountWorker | None = None) -> asyncio.Task[None]:
        built = worker or build_worker(self.platform, self.account_id, join_interval=0)
        task = asyncio.create_task(built.run())
        self.tasks.append(task)
        return task

    async def send(self, n: int, lead: int | None = None) -> None:
        command = SendMessage(
            idempotency_key=f"msg-{n}",
            account_id=self.account_id,
            campaign_id=1,
            conversation_id=n,
            message_id=n,
            peer_user_id=lead or self.leads[0],
            text=f"{TEXT} #{n}",
        )
        key = account_routing_key(self.account_id, SendMessage.NAME)
        await self.platform.bus.publish(Event.of(command), routing_key=key)

    def named(self, name: str) -> list[Event]:
        return [event for event in self.results if event.name == name]

    async def until(self, name: str, count: int = 1, seconds: float = 15) -> list[Event]:
        async def arrived() -> bool:
            return len(self.named(name)) >= count

        await _until(arrived, seconds)
        return self.named(name)

    async def fault(self, **fault: object) -> None:
        await _call(self.sandbox, "/_sandbox/faults", {"account": self.account_user_id, **fault})

    async def account(self) -> Account:
        async with self.platform.db.session() as session:
            account = await session.get(Account, self.account_id)
        assert account is not None
        return account

    async def history(self) -> list[AccountEvent]:
        async with self.platform.db.session() as session:
            query = select(AccountEvent).where(AccountEvent.account_id == self.account_id)
            return list(await session.scalars(query.order_by(AccountEvent.id)))

    async def dms(self, lead: int) -> list[dict[str, Any]]:
        url = f"{self.sandbox.url}/_sandbox/dms?user={lead}"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            messages: list[dict[str, Any]] = (await response.json())["messages"]
        return messages


@pytest.fixture
async def bots(
    database: Database,
    secret_box: SecretBox,
    sandbox: RunningSandbox,
    tmp_path: Path,
) -> AsyncIterator[Bots]:
    created = await _call(sandbox, "/_sandbox/accounts", {"first_name": "Olga"})
    leads = []
    for name in ("lena_dev", "max_q"):
        user = await _call(sandbox, "/_sandbox/users", {"first_name": name, "username": name})
        leads.append(int(user["profile"]["user_id"]))
    async with database.transaction() as session:
        account = Account(
            name="manager-1",
            role="manager",
            session_secret=secret_box.encrypt(str(created["session"])),
        )
        session.add(account)
        await session.flush()
        account_id = account.id
    bus = InMemoryBus(url=f"memory://{tmp_path.name}", retry_delay=0.05)
    await bus.start()
    relay = OutboxRelay(database, bus, poll=0.1)
    settings = Settings(
        env="test", sandbox_url=sandbox.url, flood_wait_hold=5, peer_flood_cooldown_hours=2
    )
    staged = Bots(
        platform=Platform(settings, database, bus, secret_box, relay),
        sandbox=sandbox,
        account_id=account_id,
        account_user_id=int(created["user_id"]),
        leads=leads,
    )

    async def record(event: Event) -> None:
        staged.results.append(event)

    await bus.subscribe(
        "test.results", [MessageSent.NAME, SendFailed.NAME, AccountBanned.NAME], record
    )
    await bus.declare(account_queue(account_id), [account_routing_key(account_id, "#")])
    staged.tasks.append(asyncio.create_task(relay.run()))
    yield staged
    for task in staged.tasks:
        task.cancel()
    await asyncio.gather(*staged.tasks, return_exceptions=True)
    await bus.close()


async def test_a_flood_wait_is_written_to_the_account_with_an_event_and_the_dm_still_goes(
    bots: Bots,
) -> None:
    await bots.fault(kind="flood_wait", seconds=2)  # waited out: below the hold of 5 s
    bots.start()
    asked = datetime.now(UTC)
    await bots.send(1)

    await bots.until(MessageSent.NAME)
    assert len(await bots.dms(bots.leads[0])) == 1
    account = await bots.account()
    assert _near(account.flood_until, asked + timedelta(seconds=2))
    [event] = await bots.history()
    assert (event.kind, event.seconds) == ("flood_wait", 2)
    assert event.until is not None and _near(event.until, asked + timedelta(seconds=2))


async def test_a_long_flood_wait_hands_the_send_back_and_is_written_once(bots: Bots) -> None:
    await bots.fault(kind="flood_wait", seconds=600)
    bots.start()
    asked = datetime.now(UTC)
    await bots.send(1)
    [failed] = await bots.until(SendFailed.NAME)
    await bots.send(2)  # while the wait runs: handed back without asking Telegram
    await bots.until(SendFailed.NAME, count=2)

    assert failed.payload_as(SendFailed).reason == "flood_wait"
    account = await bots.account()
    assert _near(account.flood_until, asked + timedelta(seconds=600))
    assert [(e.kind, e.seconds) for e in await bots.history()] == [("flood_wait", 600)]


async def test_peer_flood_limits_the_account_for_the_cool_down_and_does_not_ban_it(
    bots: Bots,
) -> None:
    await bots.fault(kind="peer_flood", count=2)
    worker = bots.start()
    limited_at = datetime.now(UTC)
    await bots.send(1)
    await bots.until(SendFailed.NAME)
    await bots.send(2, lead=bots.leads[1])
    failures = await bots.until(SendFailed.NAME, count=2)

    assert [f.payload_as(SendFailed).reason for f in failures] == ["peer_flood", "peer_flood"]
    assert bots.named(AccountBanned.NAME) == []
    account = await bots.account()
    assert (account.status, account.status_reason) == ("active", None)
    assert _near(account.peer_flood_until, limited_at + timedelta(hours=2))
    [event] = await bots.history()  # the second PeerFlood fell inside the same limit
    assert event.kind == "peer_flood" and _near(event.until, limited_at + timedelta(hours=2))
    assert not worker.done(), "the account keeps reading and may still answer"
    await bots.send(3)  # the limit was Telegram's; once it lifts, sends go again
    [sent] = await bots.until(MessageSent.NAME)
    assert sent.payload_as(MessageSent).message_id == 3


class CutOffMidSend(SandboxAccountClient):
    """A send to ``held_peer`` hangs until the client is closed, like a request whose connection
    the stopping worker cuts."""

    held_peer = 0
    held = 0

    def __init__(self, base_url: str, session: str) -> None:
        super().__init__(base_url, session)
        self._gone = asyncio.Event()

    async def send_message(self, peer: int | str, text: str, **options: Any) -> SentMessage:
        if peer == CutOffMidSend.held_peer:
            CutOffMidSend.held += 1
            await self._gone.wait()
            raise SandboxUnavailable("the connection closed under the request")
        return await super().send_message(peer, text, **options)

    async def disconnect(self) -> None:
        self._gone.set()
        await super().disconnect()


async def test_a_ban_stops_the_worker_and_the_send_it_cut_off_fails_instead_of_staying_sending(
    bots: Bots,
) -> None:
    CutOffMidSend.held_peer, CutOffMidSend.held = bots.leads[0], 0
    box, url = bots.platform.box, bots.sandbox.url

    def client(row: Account) -> AccountClient:
        return CutOffMidSend(url, box.decrypt(row.session_secret))

    platform = bots.platform
    worker = AccountWorker(
        account_id=bots.account_id,
        db=platform.db,
        bus=platform.bus,
        relay=platform.relay,
        client_factory=client,
        join_interval=0,
        send_settle=0.5,
    )
    task = bots.start(worker)
    await bots.send(1)  # to the held peer: in flight when the ban comes

    async def in_flight() -> bool:
        return CutOffMidSend.held == 1

    await _until(in_flight)
    await bots.fault(kind="ban")
    await bots.send(2, lead=bots.leads[1])
    await asyncio.wait_for(task, 15)

    failures = await bots.until(SendFailed.NAME, count=2)
    assert sorted(
        (f.payload_as(SendFailed).message_id, f.payload_as(SendFailed).reason) for f in failures
    ) == [(1, "banned"), (2, "banned")]
    async with platform.db.session() as session:
        statuses = dict(
            (await session.execute(select(SentKey.idempotency_key, SentKey.status))).all()
        )
    assert statuses == {"msg-1": "failed", "msg-2": "failed"}, "none is left for a dead worker"
    assert (await bots.account()).status == "banned"
    assert [e.kind for e in await bots.history()] == ["banned"]
    assert await bots.dms(bots.leads[0]) == [] and await bots.dms(bots.leads[1]) == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _telethon_session() -> str:
    """A well-formed Telethon session (never used for real: the proxy refuses first)."""
    session = StringSession()
    session.set_dc(2, "149.154.167.51", 443)
    session.auth_key = AuthKey(os.urandom(256))
    return str(session.save())


async def test_a_proxy_that_cannot_be_reached_goes_into_the_history_without_its_password(
    bots: Bots,
) -> None:
    port = _closed_port()
    box = bots.platform.box
    async with bots.platform.db.transaction() as session:
        await session.execute(
            update(Account)
            .where(Account.id == bots.account_id)
            .values(
                session_secret=box.encrypt(_telethon_session()),
                proxy_secret=box.encrypt(f"socks5://bob:hunter2-secret@127.0.0.1:{port}"),
            )
        )
    settings = bots.platform.settings.model_copy(
        update={
            "telegram_backend": "telethon",
            "telegram_api_id": 1,
            "telegram_api_hash": SecretStr("x"),
        }
    )
    platform = Platform(settings, bots.platform.db, bots.platform.bus, box, bots.platform.relay)

    with pytest.raises(TelegramError):  # Telethon gives up after its own retries
        await build_worker(platform, bots.account_id, join_interval=0).run()

    [event] = await bots.history()
    assert event.kind == "proxy" and event.detail is not None
    assert f"socks5://bob:***@127.0.0.1:{port}" in event.detail
    assert "hunter2" not in event.detail
