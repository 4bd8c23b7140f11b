"""command.send through a real account worker, sandbox and database: each idempotency key becomes
exactly one DM, proved by what the sandbox recipient received; outcomes are read off the bus."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bots.sandbox_client import SandboxAccountClient, SandboxUnavailable
from bots.sender import FLOOD_WAIT_HOLD
from bots.worker import AccountWorker
from core.bus.memory import InMemoryBus
from core.db import Database
from core.db.models import Account, SentKey
from core.events import (
    AccountBanned,
    Event,
    MessageIncoming,
    MessageSent,
    SendFailed,
    SendMessage,
    account_routing_key,
)
from core.outbox import OutboxRelay
from core.security import SecretBox
from core.telegram import AccountClient, SentMessage
from core.topology import DM_ROUTING_KEY, account_queue
from sandbox.bootstrap import RunningSandbox

pytestmark = pytest.mark.timeout(60)
TEXT = "Hi Lena! Saw your post in the jobs chat - still looking for a developer?"


# Like test_account_worker's helpers; not imported, as that module pulls in the admin workspace.
async def _call(sandbox: RunningSandbox, path: str, body: object) -> dict[str, object]:
    async with aiohttp.ClientSession() as http, http.post(sandbox.url + path, json=body) as r:
        payload: dict[str, object] = await r.json()
    assert payload["ok"], payload
    return payload


async def _until(check: Callable[[], Awaitable[bool]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


class Recorder:
    """What reached a test queue on the bus."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    def named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.name == name]


@dataclass
class Stage:
    """One manager account (database row + sandbox account), a lead, a worker and the bus."""

    database: Database
    sandbox: RunningSandbox
    bus: InMemoryBus
    worker: AccountWorker
    account_id: int
    account_user_id: int
    session: str
    lead_id: int
    client_class: type[SandboxAccountClient] = SandboxAccountClient  # read when the worker starts
    results: Recorder = field(default_factory=Recorder)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def command(self, key: str = "msg-1-acc-1", **changes: Any) -> Event:
        fields: dict[str, Any] = {
            "idempotency_key": key,
            "account_id": self.account_id,
            "campaign_id": 1,
            "conversation_id": 7,
            "message_id": 11,
            "peer_user_id": self.lead_id,
            "peer_username": "lena_dev",
            "text": TEXT,
        }
        return Event.of(SendMessage(**(fields | changes)))

    async def publish(self, command: Event) -> None:
        await self.bus.publish(
            command, routing_key=account_routing_key(self.account_id, command.name)
        )

    def start(self) -> asyncio.Task[None]:
        task = asyncio.create_task(self.worker.run())
        self.tasks.append(task)
        return task

    async def dms_to_lead(self) -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as http:
            url = f"{self.sandbox.url}/_sandbox/dms?user={self.lead_id}"
            async with http.get(url) as response:
                messages: list[dict[str, Any]] = (await response.json())["messages"]
        return messages

    async def key(self, key: str = "msg-1-acc-1") -> SentKey | None:
        async with self.database.session() as session:
            return await session.get(SentKey, key)

    async def record_sending(self, key: str = "msg-1-acc-1") -> None:
        """What a worker that died right after recording its key left behind."""
        async with self.database.transaction() as session:
            row = {"account_id": self.account_id, "peer_user_id": self.lead_id}
            session.add(SentKey(idempotency_key=key, status="sending", **row))

    async def until(self, name: str, count: int = 1, seconds: float = 15) -> list[Event]:
        async def arrived() -> bool:
            return len(self.results.named(name)) >= count

        await _until(arrived, seconds)
        return self.results.named(name)


@pytest.fixture
async def bus(tmp_path: Path) -> AsyncIterator[InMemoryBus]:
    memory = InMemoryBus(url=f"memory://{tmp_path.name}", retry_delay=0.05)
    await memory.start()
    yield memory
    await memory.close()


@pytest.fixture
async def stage(
    database: Database,
    secret_box: SecretBox,
    sandbox: RunningSandbox,
    bus: InMemoryBus,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Stage]:
    """A worker that holds a command through FloodWaits up to the test's parameter (seconds)."""
    created = await _call(sandbox, "/_sandbox/accounts", {"first_name": "Olga"})
    session = str(created["session"])
    lead = await _call(sandbox, "/_sandbox/users", {"first_name": "Lena", "username": "lena_dev"})
    async with database.transaction() as tx:
        account = Account(
            name="manager-1", role="manager", session_secret=secret_box.encrypt(session)
        )
        tx.add(account)
        await tx.flush()
        account_id = account.id

    def client(row: Account) -> AccountClient:
        return staged.client_class(sandbox.url, secret_box.decrypt(row.session_secret))

    relay = OutboxRelay(database, bus, poll=0.1)
    worker = AccountWorker(
        account_id=account_id,
        db=database,
        bus=bus,
        relay=relay,
        client_factory=client,
        join_interval=0,
        send_settle=0.5,
        flood_wait_hold=getattr(request, "param", FLOOD_WAIT_HOLD),
    )
    profile = lead["profile"]
    assert isinstance(profile, dict)
    staged = Stage(
        database=database,
        sandbox=sandbox,
        bus=bus,
        worker=worker,
        account_id=account_id,
        account_user_id=int(str(created["user_id"])),
        session=session,
        lead_id=int(profile["user_id"]),
    )
    names = [MessageSent.NAME, SendFailed.NAME, AccountBanned.NAME]
    await bus.subscribe("test.results", names, staged.results)
    # As the manager does: the command queue exists before the worker first runs.
    await bus.declare(account_queue(account_id), [account_routing_key(account_id, "#")])
    staged.tasks.append(asyncio.create_task(relay.run()))
    yield staged
    for task in staged.tasks:
        task.cancel()
    await asyncio.gather(*staged.tasks, return_exceptions=True)


async def test_a_command_delivered_twice_sends_one_dm_and_records_the_key_sent(
    stage: Stage,
) -> None:
    stage.start()
    command = stage.command()
    await stage.publish(command)
    await stage.publish(command)  # the same event again, as a broker redelivers it

    sent = await stage.until(MessageSent.NAME, count=2)  # the duplicate re-announces, never resends
    dms = await stage.dms_to_lead()
    assert [(dm["from"]["user_id"], dm["text"]) for dm in dms] == [(stage.account_user_id, TEXT)]
    ids = {e.payload_as(MessageSent).telegram_message_id for e in sent}
    assert ids == {dms[0]["message_id"]}
    key = await stage.key()
    assert key is not None and key.status == "sent"
    assert key.telegram_message_id == dms[0]["message_id"] and key.sent_at is not None
    assert all(e.correlation_id == command.id for e in sent)


async def test_a_key_left_sending_by_a_dead_worker_is_reconciled_and_sent_once(
    stage: Stage,
) -> None:
    await stage.record_sending()
    stage.start()
    await stage.publish(stage.command())

    [sent] = await stage.until(MessageSent.NAME)
    dms = await stage.dms_to_lead()
    assert [dm["text"] for dm in dms] == [TEXT]
    assert sent.payload_as(MessageSent).telegram_message_id == dms[0]["message_id"]
    key = await stage.key()
    assert key is not None and key.status == "sent"


async def test_a_dm_that_went_out_before_its_worker_died_is_not_sent_again(
    stage: Stage,
) -> None:
    await stage.record_sending()
    earlier = SandboxAccountClient(stage.sandbox.url, stage.session)
    try:
        delivered = await earlier.send_message(stage.lead_id, TEXT)
    finally:
        await earlier.disconnect()
    stage.start()
    await stage.publish(stage.command())

    [sent] = await stage.until(MessageSent.NAME)
    assert sent.payload_as(MessageSent).telegram_message_id == delivered.message_id
    assert len(await stage.dms_to_lead()) == 1
    key = await stage.key()
    assert key is not None and key.status == "sent"
    assert key.telegram_message_id == delivered.message_id


class LosesTheFirstAnswer(SandboxAccountClient):
    """The first send reaches the sandbox but its answer is lost (connection reset)."""

    lost = False

    async def send_message(self, peer: int | str, text: str, **options: Any) -> SentMessage:
        sent = await super().send_message(peer, text, **options)
        if not LosesTheFirstAnswer.lost:
            LosesTheFirstAnswer.lost = True
            raise SandboxUnavailable("connection reset before the answer")
        return sent


async def test_a_send_whose_answer_was_lost_is_found_in_the_dialog_not_sent_twice(
    stage: Stage,
) -> None:
    LosesTheFirstAnswer.lost = False
    stage.client_class = LosesTheFirstAnswer
    stage.start()
    await stage.publish(stage.command())

    [sent] = await stage.until(MessageSent.NAME)
    [dm] = await stage.dms_to_lead()
    assert LosesTheFirstAnswer.lost
    assert sent.payload_as(MessageSent).telegram_message_id == dm["message_id"]


class NeverReachesTelegram(SandboxAccountClient):
    """Every send fails as if the network were down; counts the tries."""

    tries = 0

    async def send_message(self, peer: int | str, text: str, **options: Any) -> SentMessage:
        NeverReachesTelegram.tries += 1
        raise SandboxUnavailable("network is unreachable")


async def test_a_worker_stopped_mid_send_lets_go_of_the_command_instead_of_retrying_on(
    stage: Stage,
) -> None:
    NeverReachesTelegram.tries = 0
    stage.client_class = NeverReachesTelegram
    worker = stage.start()
    await stage.publish(stage.command())

    async def tried() -> bool:
        return NeverReachesTelegram.tries > 0

    await _until(tried, 10)
    worker.cancel()  # SIGTERM: the worker disconnects its client
    await asyncio.gather(worker, return_exceptions=True)
    stage.bus.close_timeout = 10.0
    started = time.monotonic()
    await stage.bus.close()  # waits for the send still in flight

    assert time.monotonic() - started < 5, "the send kept retrying a client that was gone"
    assert await stage.dms_to_lead() == []
    key = await stage.key()
    assert key is not None and key.status == "sending", "the next worker reconciles it"


async def test_flood_wait_on_send_is_waited_out_and_the_dm_goes_once_after_it(
    stage: Stage,
) -> None:
    fault = {"kind": "flood_wait", "account": stage.account_user_id, "seconds": 2}
    await _call(stage.sandbox, "/_sandbox/faults", fault)
    stage.start()
    commanded = time.time()
    await stage.publish(stage.command())

    await stage.until(MessageSent.NAME)
    [dm] = await stage.dms_to_lead()
    assert dm["date_ts"] - commanded >= 2.0
    key = await stage.key()
    assert key is not None and key.status == "sent"


@pytest.mark.parametrize("stage", [1.0], indirect=True)
async def test_a_long_flood_wait_hands_the_send_back_and_the_next_one_does_not_ask_telegram(
    stage: Stage,
) -> None:
    fault = {"kind": "flood_wait", "account": stage.account_user_id, "seconds": 30}
    await _call(stage.sandbox, "/_sandbox/faults", fault)
    stage.start()
    commanded = datetime.now(UTC)
    await stage.publish(stage.command())
    [first] = await stage.until(SendFailed.NAME)
    await stage.publish(stage.command("msg-2-acc-1", message_id=12))  # while the wait runs
    failures = await stage.until(SendFailed.NAME, count=2)

    for event in failures:
        failed = event.payload_as(SendFailed)
        assert failed.reason == "flood_wait" and failed.retry_after is not None
        assert failed.retry_after >= commanded + timedelta(seconds=28)
    assert await stage.dms_to_lead() == []
    for key in ("msg-1-acc-1", "msg-2-acc-1"):
        row = await stage.key(key)
        assert row is not None and row.status == "failed", "that command can never send now"
    assert first.payload_as(SendFailed).message_id == 11


async def test_peer_flood_fails_the_send_without_a_dm_and_does_not_ban_the_account(
    stage: Stage,
) -> None:
    fault = {"kind": "peer_flood", "account": stage.account_user_id}
    await _call(stage.sandbox, "/_sandbox/faults", fault)
    task = stage.start()
    await stage.publish(stage.command())

    [failed] = await stage.until(SendFailed.NAME)
    assert failed.payload_as(SendFailed).reason == "peer_flood"
    assert await stage.dms_to_lead() == []
    async with stage.database.session() as session:
        account = await session.get(Account, stage.account_id)
    assert account is not None
    assert (account.status, account.peer_flood_until is not None) == ("active", True)
    key = await stage.key()
    assert key is not None and key.status == "failed"
    assert not task.done(), "a limit on writing to strangers: the account keeps working"
    assert stage.results.named(AccountBanned.NAME) == []


async def test_a_command_after_the_account_was_lost_fails_without_touching_telegram(
    stage: Stage,
) -> None:
    task = stage.start()
    await _until(lambda: _online(stage.worker), 10)
    await _call(
        stage.sandbox, "/_sandbox/faults", {"kind": "ban", "account": stage.account_user_id}
    )
    await stage.publish(stage.command())
    await asyncio.wait_for(task, 15)

    await stage.publish(stage.command("msg-2-acc-1", message_id=12))
    failed = await stage.until(SendFailed.NAME, count=2)
    assert [f.payload_as(SendFailed).reason for f in failed] == ["banned", "banned"]
    assert len(stage.results.named(AccountBanned.NAME)) == 1
    assert await stage.dms_to_lead() == []


async def test_a_lead_refusing_dms_fails_the_send_as_forbidden_and_the_account_keeps_working(
    stage: Stage,
) -> None:
    await _call(stage.sandbox, "/_sandbox/faults", {"kind": "privacy", "user": stage.lead_id})
    task = stage.start()
    await stage.publish(stage.command())

    [failed] = await stage.until(SendFailed.NAME)
    assert failed.payload_as(SendFailed).reason == "forbidden"
    key = await stage.key()
    assert key is not None and key.status == "failed"
    assert not task.done()
    async with stage.database.session() as session:
        account = await session.get(Account, stage.account_id)
    assert account is not None and account.status == "active"


async def test_a_user_that_does_not_exist_fails_the_send_as_not_found(stage: Stage) -> None:
    stage.start()
    await stage.publish(stage.command(peer_user_id=999_999, peer_username=None))

    [failed] = await stage.until(SendFailed.NAME)
    assert failed.payload_as(SendFailed).reason == "not_found"
    key = await stage.key()
    assert key is not None and key.status == "failed"


async def test_a_failed_key_is_never_sent(stage: Stage) -> None:
    async with stage.database.transaction() as session:
        row = {"account_id": stage.account_id, "peer_user_id": stage.lead_id}
        session.add(SentKey(idempotency_key="msg-1-acc-1", status="failed", **row))
    stage.start()
    await stage.publish(stage.command())
    await stage.publish(stage.command("msg-2-acc-1", message_id=12))

    await stage.until(MessageSent.NAME)  # the second key went
    await asyncio.sleep(0.3)  # and the first, which needs no Telegram call, is long settled
    assert [dm["text"] for dm in await stage.dms_to_lead()] == [TEXT]
    assert stage.results.named(SendFailed.NAME) == []


async def test_a_command_for_another_account_is_dead_lettered(stage: Stage) -> None:
    stage.start()
    await stage.publish(stage.command(account_id=stage.account_id + 1))

    assert f"command for account {stage.account_id + 1}" in await _dead_letter(stage)
    assert await stage.dms_to_lead() == []


async def test_a_malformed_command_is_dead_lettered(stage: Stage) -> None:
    stage.start()
    await stage.publish(Event(name=SendMessage.NAME, payload={"account_id": stage.account_id}))

    assert "malformed command.send" in await _dead_letter(stage)


async def _dead_letter(stage: Stage) -> str:
    """The reason of the one command the worker gave up on."""
    queue = account_queue(stage.account_id)

    async def dead() -> bool:
        return bool(await stage.bus.dead_letters(queue))

    await _until(dead, 10)
    [letter] = await stage.bus.dead_letters(queue)
    return letter.reason


async def test_dms_heard_are_published_for_the_manager_and_chat_messages_stay_for_the_parser(
    stage: Stage,
) -> None:
    dms, chat_messages = Recorder(), Recorder()
    await stage.bus.subscribe("test.dms", [DM_ROUTING_KEY], dms)
    await stage.bus.subscribe("test.parser", [MessageIncoming.NAME], chat_messages)
    other = await _call(stage.sandbox, "/_sandbox/accounts", {"first_name": "Ivan"})
    stage.start()
    await _until(lambda: _online(stage.worker), 10)
    lead = SandboxAccountClient(stage.sandbox.url, str(other["session"]))
    try:
        await lead.send_message(stage.account_user_id, "Yes, still looking. Rates?")
    finally:
        await lead.disconnect()

    await _until(lambda: _any(dms), 10)
    [heard] = dms.events
    assert heard.payload_as(MessageIncoming).is_private
    assert heard.payload_as(MessageIncoming).text == "Yes, still looking. Rates?"
    assert chat_messages.events == []


async def _online(worker: AccountWorker) -> bool:
    return worker.me is not None


async def _any(recorder: Recorder) -> bool:
    return bool(recorder.events)


async def _count(recorder: Recorder, count: int) -> bool:
    return len(recorder.events) >= count


async def test_concurrent_commands_for_different_keys_each_send_once(stage: Stage) -> None:
    stage.start()
    for n in range(5):
        await stage.publish(stage.command(f"msg-{n}-acc-1", message_id=n, text=f"{TEXT} #{n}"))
        await stage.publish(stage.command(f"msg-{n}-acc-1", message_id=n, text=f"{TEXT} #{n}"))

    await stage.until(MessageSent.NAME, count=10)
    texts = sorted(dm["text"] for dm in await stage.dms_to_lead())
    assert texts == sorted(f"{TEXT} #{n}" for n in range(5))
    async with stage.database.session() as session:
        statuses = list(await session.scalars(select(SentKey.status)))
    assert statuses == ["sent"] * 5


async def test_recent_outgoing_lists_this_accounts_latest_messages_to_the_peer_newest_first(
    sandbox: RunningSandbox,
) -> None:
    ours = await _call(sandbox, "/_sandbox/accounts", {"first_name": "Olga"})
    theirs = await _call(sandbox, "/_sandbox/accounts", {"first_name": "Ivan"})
    await _call(sandbox, "/_sandbox/users", {"first_name": "Max", "username": "max_q"})
    ivan = int(str(theirs["user_id"]))
    client = SandboxAccountClient(sandbox.url, str(ours["session"]))
    other = SandboxAccountClient(sandbox.url, str(theirs["session"]))
    try:
        await client.send_message(ivan, "one")
        await other.send_message(int(str(ours["user_id"])), "reply")
        two = await client.send_message(ivan, "two")
        await client.send_message("@max_q", "to someone else")

        recent = await client.recent_outgoing(ivan)
        latest_two = await client.recent_outgoing(ivan, limit=2)  # "two" and the reply
        none_yet = await other.recent_outgoing("@max_q")
    finally:
        await client.disconnect()
        await other.disconnect()

    assert [m.text for m in recent] == ["two", "one"]
    assert recent[0].message_id == two.message_id
    assert [m.text for m in latest_two] == ["two"]
    assert none_yet == []


async def test_a_dm_nobody_listens_for_is_dropped_and_the_worker_keeps_listening(
    stage: Stage,
) -> None:
    other = await _call(stage.sandbox, "/_sandbox/accounts", {"first_name": "Ivan"})
    stage.start()
    await _until(lambda: _online(stage.worker), 10)
    lead = SandboxAccountClient(stage.sandbox.url, str(other["session"]))
    try:
        await lead.send_message(stage.account_user_id, "first, before any manager ran")
        await asyncio.sleep(0.3)
        dms = Recorder()
        await stage.bus.subscribe("test.dms", [DM_ROUTING_KEY], dms)
        # A failed publish surfaces when the next message comes: the one after that is the proof.
        await lead.send_message(stage.account_user_id, "second")
        await _until(lambda: _any(dms), 10)
        await lead.send_message(stage.account_user_id, "third")
        await _until(lambda: _count(dms, 2), 10)
    finally:
        await lead.disconnect()

    assert [e.payload_as(MessageIncoming).text for e in dms.events] == ["second", "third"]
