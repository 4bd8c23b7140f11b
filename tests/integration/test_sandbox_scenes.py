"""Scene lines through the account port against a live sandbox: replies, photos and stickers,
the per-group rate limit, faults on group sends, members answering, typing in the web view."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bots.sandbox_client import SandboxAccountClient
from core.telegram import (
    AccountBannedError,
    Attachment,
    AttachmentMissing,
    FloodWait,
    IncomingMessage,
    ReplyNotFound,
    WriteForbidden,
)
from sandbox.bootstrap import RunningSandbox, serve
from sandbox.limits import AccountLimitsConfig, LimitsConfig
from sandbox.state import World

Admin = Callable[..., Awaitable[Any]]
CAKE = Attachment(kind="photo", ref="https://cdn.example.com/menu/cake%201.jpg?size=big")
HELLO = Attachment(kind="sticker", ref="hello.webp")


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    # The account-wide budget is wide open so that only the per-group limit can refuse.
    limits = LimitsConfig(account=AccountLimitsConfig(messages_per_minute=6000, message_burst=500))
    running = await serve("127.0.0.1", 0, world=World(limits=limits))
    yield running
    await running.stop()


@pytest.fixture
async def http(sandbox: RunningSandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sandbox.url) as session:
        yield session


@pytest.fixture
def admin(http: aiohttp.ClientSession) -> Admin:
    async def call(method: str, path: str, **body: Any) -> Any:
        async with http.request(method, path, json=body or None) as response:
            data = await response.json()
            assert data["ok"], data
            return data

    return call


class Cast:
    """Two accounts of ours in the group ``@bakery_club`` (lively) and ``@quiet_club``."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        self.clients: list[SandboxAccountClient] = []
        self.ids: list[int] = []

    async def add(self, admin: Admin, name: str, media_dir: Path | None = None) -> Any:
        made = await admin("POST", "/_sandbox/accounts", first_name=name, username=f"ct_{name}")
        client = SandboxAccountClient(
            self.sandbox.url, made["session"], poll_timeout=1, media_dir=media_dir
        )
        await client.connect()
        for ref in ("@bakery_club", "@quiet_club"):
            await client.join_chat(ref)
        self.clients.append(client)
        self.ids.append(int(made["user_id"]))
        return client


@pytest.fixture
async def cast(sandbox: RunningSandbox, admin: Admin) -> AsyncIterator[Cast]:
    await admin("POST", "/_sandbox/chats", ref="bakery_club", title="Bakery club", lively=True)
    await admin("POST", "/_sandbox/chats", ref="quiet_club", title="Quiet club")
    made = Cast(sandbox)
    await made.add(admin, "host")
    await made.add(admin, "guest")
    yield made
    for client in made.clients:
        await client.disconnect()


async def next_messages(client: SandboxAccountClient, count: int, seconds: float = 5) -> list[Any]:
    got: list[IncomingMessage] = []

    async def read() -> None:
        async for message in client.incoming():
            got.append(message)
            if len(got) == count:
                return

    await asyncio.wait_for(read(), seconds)
    return got


async def test_a_reply_in_a_group_reaches_the_other_account_with_the_id_it_quotes(
    cast: Cast,
) -> None:
    host, guest = cast.clients
    opening = await host.send_message("@bakery_club", "Welcome to the club")

    answer = await guest.send_message(
        opening.chat_id, "Glad to be here", reply_to=opening.message_id
    )

    heard_by_guest, heard_by_host = await next_messages(guest, 1), await next_messages(host, 1)
    assert heard_by_guest[0].reply_to_message_id is None
    reply = heard_by_host[0]
    assert (reply.message_id, reply.text) == (answer.message_id, "Glad to be here")
    assert reply.reply_to_message_id == opening.message_id
    event = reply.as_event(account_id=cast.ids[0], chat_ref="@bakery_club")
    assert event.reply_to_message_id == opening.message_id


async def test_a_photo_arrives_with_its_caption_and_a_sticker_is_kept_in_the_chat(
    cast: Cast, admin: Admin
) -> None:
    host, guest = cast.clients

    photo = await host.send_message("@bakery_club", "Our new cake", attachment=CAKE)
    sticker = await host.send_message(
        "@bakery_club", "", attachment=HELLO, reply_to=photo.message_id
    )
    await host.send_message("@bakery_club", "Who wants a slice?")

    # The sticker has no text: like the Telethon adapter, the account skips it in a group.
    heard = await next_messages(guest, 2)
    assert [m.text for m in heard] == ["Our new cake", "Who wants a slice?"]
    assert heard[0].message_id == photo.message_id
    chat = await admin("GET", "/_sandbox/messages?chat=@bakery_club")
    stored = {m["message_id"]: m for m in chat["messages"]}
    assert stored[photo.message_id]["attachment"] == CAKE.model_dump()
    assert stored[sticker.message_id]["attachment"] == HELLO.model_dump()
    assert stored[sticker.message_id]["text"] == ""
    assert stored[sticker.message_id]["reply_to_message_id"] == photo.message_id


async def test_a_sticker_in_a_dm_arrives_with_empty_text(cast: Cast) -> None:
    host, guest = cast.clients

    await host.send_message(cast.ids[1], "", attachment=HELLO)

    [heard] = await next_messages(guest, 1)
    assert heard.is_private and heard.text == "" and heard.sender.user_id == cast.ids[0]


async def test_a_reply_to_a_missing_deleted_or_foreign_message_is_reply_not_found_and_not_sent(
    cast: Cast, admin: Admin, sandbox: RunningSandbox
) -> None:
    host, _ = cast.clients
    first = await host.send_message("@bakery_club", "first")
    elsewhere = await host.send_message("@quiet_club", "in the other group")
    elsewhere_second = await host.send_message("@quiet_club", "and one more")
    chat = sandbox.world.chat("@bakery_club")
    assert chat is not None
    deleted = chat.history.get(first.message_id - 1)
    assert deleted is not None
    deleted.deleted = True

    for missing in (first.message_id, 99, elsewhere_second.message_id):
        with pytest.raises(ReplyNotFound):
            await host.send_message("@bakery_club", "answer", reply_to=missing)

    after = await admin("GET", "/_sandbox/messages?chat=@bakery_club")
    assert [m["text"] for m in after["messages"]] == ["first"]
    assert elsewhere.message_id == 1


async def test_the_21st_message_in_a_minute_to_one_group_is_a_flood_wait_other_groups_go_on(
    cast: Cast,
) -> None:
    host, guest = cast.clients
    for n in range(20):
        await host.send_message("@bakery_club", f"line {n}")

    with pytest.raises(FloodWait) as refused:
        await host.send_message("@bakery_club", "one too many")

    assert 55 <= refused.value.seconds <= 60
    assert (await host.send_message("@quiet_club", "still fine here")).message_id == 1
    assert (await guest.send_message("@bakery_club", "and others still talk")).message_id == 21


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"kind": "flood_wait", "seconds": 33}, FloodWait),
        ({"kind": "ban"}, AccountBannedError),
        ({"kind": "forbid_writes", "chat": "@bakery_club"}, WriteForbidden),
    ],
    ids=["flood-wait", "ban", "write-forbidden"],
)
async def test_injected_faults_refuse_a_group_line(
    cast: Cast, admin: Admin, fault: dict[str, Any], error: type[Exception]
) -> None:
    host, _ = cast.clients
    target = {"account": cast.ids[0]} if fault["kind"] != "forbid_writes" else {}

    await admin("POST", "/_sandbox/faults", **fault, **target)

    with pytest.raises(error) as refused:
        await host.send_message("@bakery_club", "Today's special?", reply_to=None)
    if isinstance(refused.value, FloodWait):
        assert refused.value.seconds == 33
    chat = await admin("GET", "/_sandbox/messages?chat=@bakery_club")
    assert chat["messages"] == []


async def test_a_members_reply_posted_through_the_sandbox_reaches_the_accounts_with_its_quote(
    cast: Cast, http: aiohttp.ClientSession
) -> None:
    host, guest = cast.clients
    question = await host.send_message("@quiet_club", "Anyone tried the rye bread?")
    await next_messages(guest, 1)

    body = {"chat": "@quiet_club", "text": "Yes, loved it", "reply_to": question.message_id}
    async with http.post("/_sandbox/post", json=body) as response:
        assert response.status == 200
    async with http.post("/_sandbox/post", json=body | {"reply_to": 77}) as response:
        refused = await response.json()

    [heard] = await next_messages(host, 1)
    assert heard.text == "Yes, loved it" and heard.reply_to_message_id == question.message_id
    assert (response.status, refused["error"]) == (400, "REPLY_MESSAGE_ID_INVALID")


async def test_in_a_lively_chat_a_member_answers_a_question_quoting_it_in_its_language(
    cast: Cast, admin: Admin
) -> None:
    host, guest = cast.clients
    await admin("PUT", "/_sandbox/lively", probability=1, speed=20, seed=5)  # 0.1–0.4 s

    await host.send_message("@bakery_club", "Hello everyone!")  # not a question
    await host.send_message("@quiet_club", "Who likes croissants?")  # not a lively chat
    asked = await host.send_message("@bakery_club", "Кто уже пробовал наш новый торт?")

    heard = await next_messages(host, 1, seconds=2)
    answer = heard[0]
    assert answer.reply_to_message_id == asked.message_id
    assert answer.chat_id == asked.chat_id and answer.sender.user_id not in cast.ids
    assert any("а" <= ch.lower() <= "я" for ch in answer.text)
    await asyncio.sleep(0.6)  # any answer to the other two would have come by now
    status = await admin("GET", "/_sandbox/lively")
    assert status["answered"] == 1
    assert len(await next_messages(guest, 4)) == 4  # three lines of ours and the answer


async def test_typing_shows_in_the_web_view_until_the_line_is_sent(
    cast: Cast, admin: Admin, sandbox: RunningSandbox
) -> None:
    host, _ = cast.clients
    chat = sandbox.world.chat("@bakery_club")
    assert chat is not None
    view = f"/_sandbox/view/chats/g_{chat.id}/messages"

    await host.send_typing("@bakery_club")
    typing = (await admin("GET", view))["typing"]
    await host.send_message("@bakery_club", "Fresh bread is out")
    after = (await admin("GET", view))["typing"]

    assert [person["name"] for person in typing] == ["host"]
    assert after == []


async def test_the_web_view_shows_a_photo_by_its_file_name_and_quotes_a_sticker_as_sticker(
    cast: Cast, admin: Admin, sandbox: RunningSandbox
) -> None:
    host, guest = cast.clients
    sticker = await host.send_message("@bakery_club", "", attachment=HELLO)
    await guest.send_message("@bakery_club", "Yum", attachment=CAKE, reply_to=sticker.message_id)
    chat = sandbox.world.chat("@bakery_club")
    assert chat is not None

    shown = (await admin("GET", f"/_sandbox/view/chats/g_{chat.id}/messages"))["messages"]

    assert shown[0]["attachment"] == {"kind": "sticker", "name": "hello.webp"}
    assert shown[1]["attachment"] == {"kind": "photo", "name": "cake 1.jpg"}
    assert shown[1]["text"] == "Yum"
    assert shown[1]["reply_to"]["text"] == "Sticker"
    listed = await admin("GET", "/_sandbox/view/chats")
    bakery = next(g for g in listed["groups"] if g["key"] == f"g_{chat.id}")
    assert bakery["last"]["text"] == "Yum"


async def test_what_telegram_refuses_is_refused_before_any_request(cast: Cast) -> None:
    host, _ = cast.clients

    with pytest.raises(ValueError, match="no caption"):
        await host.send_message("@bakery_club", "hi", attachment=HELLO)
    with pytest.raises(ValueError, match="text or an attachment"):
        await host.send_message("@bakery_club", "  ")
    with pytest.raises(ValueError, match="caption is at most 1024"):
        await host.send_message("@bakery_club", "x" * 1025, attachment=CAKE)


async def test_the_sandbox_itself_refuses_an_empty_message_and_a_captioned_sticker(
    cast: Cast, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    account = sandbox.world.accounts[cast.ids[0]]
    session = next(s for s, uid in sandbox.world.sessions.items() if uid == account.user.id)
    headers = {"Authorization": f"Session {session}"}
    bodies = [
        {"peer": "@bakery_club", "text": ""},
        {"peer": "@bakery_club", "text": "hi", "attachment": HELLO.model_dump()},
        {"peer": "@bakery_club", "text": "x" * 1025, "attachment": CAKE.model_dump()},
    ]

    codes = []
    for body in bodies:
        async with http.post("/user/messages", json=body, headers=headers) as response:
            codes.append((response.status, (await response.json())["error"]))

    assert codes == [(400, "MESSAGE_EMPTY"), (400, "BAD_REQUEST"), (400, "MEDIA_CAPTION_TOO_LONG")]


async def test_a_media_file_missing_from_the_media_directory_is_attachment_missing(
    cast: Cast, admin: Admin, tmp_path: Path
) -> None:
    (tmp_path / "hello.webp").write_bytes(b"RIFF....WEBP")
    with_media = await cast.add(admin, "third", media_dir=tmp_path)

    with pytest.raises(AttachmentMissing, match="bye.webp"):
        await with_media.send_message(
            "@bakery_club", "", attachment=HELLO.model_copy(update={"ref": "bye.webp"})
        )
    sent = await with_media.send_message("@bakery_club", "", attachment=HELLO)

    assert sent.message_id == 1


async def test_an_account_typing_to_a_lead_shows_in_that_dm_dialog_of_the_web_view(
    cast: Cast, admin: Admin
) -> None:
    host, _ = cast.clients
    lead = (await admin("POST", "/_sandbox/users", first_name="Mila"))["profile"]["user_id"]
    await host.send_message(lead, "Hello Mila!")

    await host.send_typing(lead)

    dialog = await admin("GET", f"/_sandbox/view/chats/d_{cast.ids[0]}_{lead}/messages")
    assert [person["id"] for person in dialog["typing"]] == [cast.ids[0]]
    assert [m["text"] for m in dialog["messages"]] == ["Hello Mila!"]


async def test_a_leads_reply_written_in_the_web_view_reaches_the_account_with_its_quote(
    cast: Cast, admin: Admin
) -> None:
    host, _ = cast.clients
    lead = (await admin("POST", "/_sandbox/users", first_name="Mila"))["profile"]["user_id"]
    offer = await host.send_message(lead, "Would you like a tasting?")
    key = f"d_{cast.ids[0]}_{lead}"

    await admin(
        "POST", f"/_sandbox/view/chats/{key}/messages", text="Yes!", reply_to=offer.message_id
    )

    [heard] = await next_messages(host, 1)
    assert heard.is_private and heard.text == "Yes!"
    assert heard.reply_to_message_id == offer.message_id
