"""SandboxAccountClient against a live sandbox: the account port as the bots worker uses it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from bots.sandbox_client import SandboxAccountClient
from core.telegram import (
    AccountBannedError,
    ChatLimitReached,
    ChatNotFound,
    FloodWait,
    IncomingMessage,
    PeerFlood,
    SessionRevokedError,
    WriteForbidden,
)
from sandbox.bootstrap import RunningSandbox, serve
from sandbox.limits import AccountLimitsConfig, LimitsConfig
from sandbox.responder import CannedResponder
from sandbox.state import World

Admin = Callable[..., Awaitable[Any]]


def make_world(**account_limits: Any) -> World:
    limits = LimitsConfig(account=AccountLimitsConfig(**account_limits))
    replies = CannedResponder(delay=(0.05, 0.1), opt_out_share=0.0, silent_share=0.0)
    return World(limits=limits, responder=replies)


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
async def sandbox(world: World) -> AsyncIterator[RunningSandbox]:
    running = await serve("127.0.0.1", 0, world=world)
    yield running
    await running.stop()


@pytest.fixture
async def admin(sandbox: RunningSandbox) -> AsyncIterator[Admin]:
    async with aiohttp.ClientSession(base_url=sandbox.url) as http:

        async def call(method: str, path: str, **body: Any) -> Any:
            async with http.request(method, path, json=body or None) as response:
                data = await response.json()
                assert data["ok"], data
                return data

        yield call


@pytest.fixture
async def account(admin: Admin) -> dict[str, Any]:
    created = await admin("POST", "/_sandbox/accounts", first_name="Parser", username="parser_one")
    await admin("POST", "/_sandbox/chats", ref="python_ru", title="Python по-русски")
    return dict(created)


@pytest.fixture
async def client(sandbox: RunningSandbox, account: dict[str, Any]) -> AsyncIterator[Any]:
    made = SandboxAccountClient(
        sandbox.url, account["session"], poll_timeout=1, retry_delays=(0.05, 0.2)
    )
    yield made
    await made.disconnect()


async def collect(client: SandboxAccountClient, count: int, seconds: float = 5) -> list[Any]:
    """The next ``count`` messages from a fresh ``incoming()`` stream."""
    got: list[IncomingMessage] = []

    async def read() -> None:
        async for message in client.incoming():
            got.append(message)
            if len(got) == count:
                return

    await asyncio.wait_for(read(), seconds)
    return got


async def test_connect_logs_in_and_returns_the_accounts_profile(
    client: SandboxAccountClient, account: dict[str, Any]
) -> None:
    me = await client.connect()

    assert me.user_id == account["user_id"]
    assert me.username == "parser_one" and me.first_name == "Parser"


async def test_a_joined_chat_delivers_audience_messages_with_the_senders_profile(
    client: SandboxAccountClient, admin: Admin
) -> None:
    await client.connect()
    chat = await client.join_chat("https://t.me/python_ru")
    assert chat.ref == "python_ru" and chat.title == "Python по-русски" and chat.chat_id < 0
    author = {"first_name": "Анна", "last_name": "Смирнова", "username": "anna_s", "bio": "Кофейня"}
    await admin("POST", "/_sandbox/post", chat="@python_ru", text="Ищу разработчика", user=author)
    await admin("POST", "/_sandbox/audience/start", rate=500, count=20, seed=7)

    messages = await collect(client, 21)

    first = messages[0]
    assert first.text == "Ищу разработчика" and first.chat_id == chat.chat_id
    assert first.link == "https://t.me/python_ru/1" and not first.is_private
    assert (first.sender.first_name, first.sender.username, first.sender.bio) == (
        "Анна",
        "anna_s",
        "Кофейня",
    )
    assert all(m.sender.first_name for m in messages[1:])
    assert [m.message_id for m in messages] == list(range(1, 22))


async def test_a_dm_is_sent_read_back_and_answered(
    client: SandboxAccountClient, admin: Admin
) -> None:
    await client.connect()
    lead = await admin("POST", "/_sandbox/users", first_name="Мария", username="maria_k")
    lead_id = lead["profile"]["user_id"]

    sent = await client.send_message(lead_id, "Здравствуйте! Вы искали разработчика?")
    await client.send_typing("@maria_k")

    assert sent.chat_id == lead_id
    dms = await admin("GET", f"/_sandbox/dms?user={lead_id}")
    assert [m["text"] for m in dms["messages"]] == ["Здравствуйте! Вы искали разработчика?"]
    assert dms["messages"][0]["from"]["username"] == "parser_one"
    [reply] = await collect(client, 1)
    assert reply.is_private and reply.chat_id == lead_id and reply.sender.username == "maria_k"
    profile = await client.get_profile(lead_id)
    assert profile.first_name == "Мария"


async def test_unknown_chats_and_users_raise_chat_not_found(client: SandboxAccountClient) -> None:
    await client.connect()

    with pytest.raises(ChatNotFound):
        await client.join_chat("@no_such_chat")
    with pytest.raises(ChatNotFound):
        await client.join_chat("https://t.me/+privateInviteHash")
    with pytest.raises(ChatNotFound):
        await client.send_message("@nobody_here", "hi")


async def inject(admin: Admin, **fault: Any) -> None:
    await admin("POST", "/_sandbox/faults", **fault)


async def test_injected_flood_wait_on_sends_fails_the_next_k_sends_with_its_seconds(
    client: SandboxAccountClient, admin: Admin, account: dict[str, Any]
) -> None:
    await client.connect()
    await client.join_chat("@python_ru")
    await inject(admin, kind="flood_wait", account=account["user_id"], seconds=42, count=2)

    for _ in range(2):
        with pytest.raises(FloodWait) as waited:
            await client.send_message("@python_ru", "привет")
        assert waited.value.seconds == 42
    assert (await client.send_message("@python_ru", "привет")).message_id == 1


async def test_injected_flood_wait_on_joins(
    client: SandboxAccountClient, admin: Admin, account: dict[str, Any]
) -> None:
    await inject(
        admin, kind="flood_wait", account=account["user_id"], seconds=300, operation="join"
    )

    with pytest.raises(FloodWait) as waited:
        await client.join_chat("@python_ru")
    assert waited.value.seconds == 300
    assert (await client.join_chat("@python_ru")).ref == "python_ru"


async def test_injected_peer_flood_ban_and_write_bans_map_to_port_errors(
    client: SandboxAccountClient, admin: Admin, account: dict[str, Any]
) -> None:
    me = account["user_id"]
    lead = (await admin("POST", "/_sandbox/users", first_name="Ivan"))["profile"]["user_id"]
    await client.join_chat("@python_ru")

    await inject(admin, kind="peer_flood", account=me)
    with pytest.raises(PeerFlood):
        await client.send_message(lead, "hello")
    await inject(admin, kind="forbid_writes", chat="@python_ru", account=me)
    with pytest.raises(WriteForbidden):
        await client.send_message("@python_ru", "hello")
    await inject(admin, kind="privacy", user=lead)
    with pytest.raises(WriteForbidden):
        await client.send_message(lead, "hello")
    await inject(admin, kind="ban", account=me)
    with pytest.raises(AccountBannedError):
        await client.connect()

    await admin("DELETE", f"/_sandbox/faults?account={me}")
    assert (await client.send_message("@python_ru", "back")).message_id == 1


async def test_real_limits_answer_flood_wait_and_peer_flood(
    sandbox: RunningSandbox, admin: Admin
) -> None:
    await admin(
        "PATCH",
        "/_sandbox/limits",
        account={"message_burst": 2, "messages_per_minute": 6, "new_dm_burst": 1},
    )
    created = await admin("POST", "/_sandbox/accounts", first_name="Manager")
    client = SandboxAccountClient(sandbox.url, created["session"])
    try:
        users = [(await admin("POST", "/_sandbox/users"))["profile"]["user_id"] for _ in range(2)]
        await client.send_message(users[0], "hi")
        with pytest.raises(PeerFlood):
            await client.send_message(users[1], "hi")
        await client.send_message(users[0], "second message to a known contact")
        with pytest.raises(FloodWait) as waited:
            await client.send_message(users[0], "third")
        assert 1 <= waited.value.seconds <= 10
    finally:
        await client.disconnect()


async def test_the_501st_channel_join_is_refused(
    world: World, client: SandboxAccountClient
) -> None:
    # the cap, not the join pace, is under test
    world.set_limits(LimitsConfig(account=AccountLimitsConfig(join_burst=1000)))
    refs = [world.add_chat(f"chat_{n:04d}", f"Chat {n}").ref for n in range(501)]

    for ref in refs[:500]:
        assert ref is not None
        await client.join_chat(ref)
    with pytest.raises(ChatLimitReached, match="CHANNELS_TOO_MUCH"):
        await client.join_chat(str(refs[500]))

    assert (await client.join_chat(str(refs[0]))).ref == refs[0]  # already a member: no-op


async def test_a_revoked_session_raises_session_revoked_and_a_new_one_works(
    sandbox: RunningSandbox, client: SandboxAccountClient, admin: Admin, account: dict[str, Any]
) -> None:
    await client.connect()
    stream = client.incoming()
    await inject(admin, kind="revoke", account=account["user_id"])

    with pytest.raises(SessionRevokedError):
        await asyncio.wait_for(anext(stream), 5)
    with pytest.raises(SessionRevokedError):
        await client.connect()
    fresh = await admin("POST", f"/_sandbox/accounts/{account['user_id']}/sessions")
    again = SandboxAccountClient(sandbox.url, fresh["session"])
    try:
        assert (await again.connect()).user_id == account["user_id"]
    finally:
        await again.disconnect()


async def test_incoming_survives_a_sandbox_restart_without_losing_or_repeating(
    world: World, sandbox: RunningSandbox, client: SandboxAccountClient
) -> None:
    await client.connect()
    await client.join_chat("@python_ru")
    chat = world.chat("python_ru")
    author = world.add_user("Олег")
    assert chat is not None
    received: asyncio.Queue[str] = asyncio.Queue()

    async def read() -> None:
        async for message in client.incoming():
            received.put_nowait(message.text)

    async def take(count: int) -> list[str]:
        return [await asyncio.wait_for(received.get(), 10) for _ in range(count)]

    reader = asyncio.create_task(read())
    try:
        for n in range(3):
            world.post(chat, author, f"before {n}")
        got = await take(3)
        await sandbox.stop()
        for n in range(3):
            world.post(chat, author, f"during {n}")
        await asyncio.sleep(0.5)  # the client meets refused connections and backs off
        restarted = await serve("127.0.0.1", sandbox.port, world=world)
        try:
            world.post(chat, author, "after")
            got += await take(4)
            await asyncio.sleep(0.3)  # room for a duplicate to show up
        finally:
            await restarted.stop()
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)

    expected = [f"before {n}" for n in range(3)] + [f"during {n}" for n in range(3)] + ["after"]
    assert got == expected and received.empty()
