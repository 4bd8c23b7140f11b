"""The Telethon adapter, exercised on Telethon's own objects, errors and event dispatch.

No network: mapping functions get real ``telethon.tl.types`` objects; the adapter runs over
``FakeTelegram``, a stand-in for ``TelegramClient`` at its method boundary, and receives real
``events.NewMessage.Event`` objects built the way Telethon's dispatcher builds them.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from telethon import TelegramClient, errors, events, types, utils
from telethon.network import ConnectionTcpMTProxyRandomizedIntermediate
from telethon.sessions import StringSession
from telethon.tl.functions.channels import JoinChannelRequest, LeaveChannelRequest
from telethon.tl.functions.contacts import ResolveUsernameRequest
from telethon.tl.functions.messages import CheckChatInviteRequest, ImportChatInviteRequest
from telethon.tl.functions.users import GetFullUserRequest, GetUsersRequest
from telethon.tl.types import (
    Channel,
    Chat,
    ChatPhotoEmpty,
    Message,
    MessageMediaPhoto,
    MessageReplyHeader,
    PeerChannel,
    PeerChat,
    PeerUser,
    User,
    Username,
)

from bots.proxy import parse_proxy_url
from bots.telethon_client import ClientOptions, TelethonAccountClient, build_telegram_client
from bots.telethon_mapping import (
    incoming_from_message,
    map_error,
    profile_from_user,
)
from core.chatref import parse_chat_ref
from core.events import Profile
from core.telegram import (
    AccountBannedError,
    ChatLimitReached,
    ChatNotFound,
    FloodWait,
    PeerFlood,
    SessionRevokedError,
    TelegramError,
    WriteForbidden,
)

WHEN = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
ANN = User(id=101, access_hash=11, first_name="Ann", last_name="Lee", username="ann_lee")
GROUP = Channel(
    id=2001, title="Python Jobs", photo=ChatPhotoEmpty(), date=WHEN, megagroup=True,
    access_hash=21, username="pyjobs",
)  # fmt: skip
SECRET_GROUP = Channel(
    id=2002, title="Inner Circle", photo=ChatPhotoEmpty(), date=WHEN, megagroup=True,
    access_hash=22,
)  # fmt: skip
SMALL_GROUP = Chat(
    id=3001, title="Team", photo=ChatPhotoEmpty(), participants_count=3, date=WHEN, version=1
)


def message(peer: Any, text: str = "need a python dev", **extra: Any) -> Message:
    extra.setdefault("from_id", PeerUser(ANN.id))
    return Message(id=77, peer_id=peer, date=WHEN, message=text, **extra)


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("error", "seconds"),
    [
        (errors.FloodWaitError(request=None, capture=30), 30),
        (errors.SlowModeWaitError(request=None, capture=10), 10),
        (errors.FloodPremiumWaitError(request=None, capture=5), 5),
        (errors.FloodTestPhoneWaitError(request=None, capture=7), 7),
        (errors.FloodWaitError(request=None, capture=0), 1),
    ],
    ids=["flood-wait", "slow-mode", "premium-wait", "test-phone-wait", "zero-becomes-one"],
)
def test_flood_waits_reach_the_scheduler_with_the_seconds_to_wait(
    error: Exception, seconds: int
) -> None:
    mapped = map_error(error)

    assert type(mapped) is FloodWait
    assert isinstance(mapped, FloodWait) and mapped.seconds == seconds


@pytest.mark.parametrize(
    ("error", "port_error"),
    [
        (errors.PeerFloodError(request=None), PeerFlood),
        (errors.UserRestrictedError(request=None), PeerFlood),
        (errors.UserDeactivatedBanError(request=None), AccountBannedError),
        (errors.UserDeactivatedError(request=None), AccountBannedError),
        (errors.PhoneNumberBannedError(request=None), AccountBannedError),
        (errors.FrozenMethodInvalidError(request=None), AccountBannedError),
        (errors.AuthKeyUnregisteredError(request=None), SessionRevokedError),
        (errors.SessionRevokedError(request=None), SessionRevokedError),
        (errors.SessionExpiredError(request=None), SessionRevokedError),
        (errors.AuthKeyDuplicatedError(request=None), SessionRevokedError),
        (errors.SessionPasswordNeededError(request=None), SessionRevokedError),
        (errors.ChatWriteForbiddenError(request=None), WriteForbidden),
        (errors.UserBannedInChannelError(request=None), WriteForbidden),
        (errors.UserPrivacyRestrictedError(request=None), WriteForbidden),
        (errors.UserIsBlockedError(request=None), WriteForbidden),
        (errors.UsernameNotOccupiedError(request=None), ChatNotFound),
        (errors.UsernameInvalidError(request=None), ChatNotFound),
        (errors.ChannelPrivateError(request=None), ChatNotFound),
        (errors.InviteHashExpiredError(request=None), ChatNotFound),
        (errors.InviteRequestSentError(request=None), ChatNotFound),
        (errors.ChannelsTooMuchError(request=None), ChatLimitReached),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.__name__,
)
def test_telethon_errors_map_to_the_port_error_the_worker_acts_on(
    error: Exception, port_error: type[TelegramError]
) -> None:
    mapped = map_error(error)

    assert type(mapped) is port_error
    assert str(error) in str(mapped)


def test_peer_flood_marks_account_limited_for_strangers_not_banned() -> None:
    mapped = map_error(errors.PeerFloodError(request=None))

    assert isinstance(mapped, PeerFlood) and not isinstance(mapped, AccountBannedError)


def test_too_many_channels_blames_the_account_capacity_not_the_chat() -> None:
    mapped = map_error(errors.ChannelsTooMuchError(request=None))

    assert isinstance(mapped, TelegramError) and not isinstance(mapped, ChatNotFound)


@pytest.mark.parametrize(
    "error",
    [
        errors.AuthKeyNotFound(),
        errors.ServerError(request=None, message="RPC_CALL_FAIL", code=500),
        errors.RPCError(request=None, message="SOMETHING_NEW", code=400),
        ConnectionError("Cannot send requests while disconnected"),
    ],
    ids=["auth-key-not-found", "server-error", "unknown-rpc", "disconnected"],
)
def test_uncertain_errors_never_mark_the_account_dead(error: Exception) -> None:
    assert type(map_error(error)) is TelegramError


# ---------------------------------------------------------------------------- profiles


def test_profile_carries_names_username_and_bio() -> None:
    assert profile_from_user(ANN, "Backend dev") == Profile(
        user_id=101, username="ann_lee", first_name="Ann", last_name="Lee", bio="Backend dev"
    )


def test_profile_without_username_last_name_or_bio() -> None:
    profile = profile_from_user(User(id=5, first_name="Bo"), None)

    assert (profile.username, profile.last_name, profile.bio, profile.is_bot) == (
        None,
        None,
        None,
        False,
    )


def test_bot_users_are_flagged_and_an_empty_bio_is_none() -> None:
    profile = profile_from_user(User(id=6, first_name="Helper", bot=True, username="x_bot"), "")

    assert profile.is_bot and profile.bio is None


def test_collectible_username_is_found_in_the_usernames_list() -> None:
    user = User(id=7, first_name="C", usernames=[Username("old", active=False), Username("neo")])
    user.usernames[1].active = True

    assert profile_from_user(user, None).username == "neo"


# ---------------------------------------------------------------------------- messages


def test_public_supergroup_message_has_ref_title_and_link() -> None:
    incoming = incoming_from_message(message(PeerChannel(GROUP.id)), GROUP, ANN, "Backend dev")

    assert incoming is not None
    assert incoming.chat_id == -1000000002001 == utils.get_peer_id(GROUP)
    assert (incoming.chat_ref, incoming.chat_title) == ("@pyjobs", "Python Jobs")
    assert incoming.link == "https://t.me/pyjobs/77"
    assert not incoming.is_private
    assert incoming.date_ts == WHEN.timestamp()
    assert incoming.sender.bio == "Backend dev" and incoming.sender.username == "ann_lee"


@pytest.mark.parametrize(
    ("chat", "peer", "chat_id"),
    [(SECRET_GROUP, PeerChannel(2002), -1000000002002), (SMALL_GROUP, PeerChat(3001), -3001)],
    ids=["private-supergroup", "basic-group"],
)
def test_private_group_message_has_no_ref_and_no_link(chat: Any, peer: Any, chat_id: int) -> None:
    incoming = incoming_from_message(message(peer), chat, ANN, None)

    assert incoming is not None
    assert (incoming.chat_id, incoming.chat_ref, incoming.link) == (chat_id, None, None)
    assert incoming.chat_title == chat.title


def test_direct_message_is_private_without_link() -> None:
    incoming = incoming_from_message(message(PeerUser(ANN.id), "yes, tell me more"), ANN, ANN, None)

    assert incoming is not None
    assert incoming.is_private and incoming.chat_id == ANN.id
    assert (incoming.chat_ref, incoming.chat_title, incoming.link) == ("@ann_lee", "Ann Lee", None)


def test_a_reply_is_delivered_with_its_text_and_the_id_it_quotes() -> None:
    reply = message(PeerChannel(GROUP.id), reply_to=MessageReplyHeader(reply_to_msg_id=5))

    incoming = incoming_from_message(reply, GROUP, ANN, None)

    assert incoming is not None and incoming.text == "need a python dev"
    assert incoming.reply_to_message_id == 5


def test_media_without_caption_in_a_group_is_skipped() -> None:
    photo = message(PeerChannel(GROUP.id), "", media=MessageMediaPhoto())

    assert incoming_from_message(photo, GROUP, ANN, None) is None


def test_media_without_caption_in_a_dm_is_delivered_with_empty_text_because_the_lead_answered() -> (
    None
):
    voice = message(PeerUser(ANN.id), "", media=MessageMediaPhoto())

    incoming = incoming_from_message(voice, ANN, ANN, None)

    assert incoming is not None and incoming.text == "" and incoming.is_private


def test_media_caption_is_the_text() -> None:
    photo = message(PeerChannel(GROUP.id), "hiring, see photo", media=MessageMediaPhoto())

    incoming = incoming_from_message(photo, GROUP, ANN, None)

    assert incoming is not None and incoming.text == "hiring, see photo"


@pytest.mark.parametrize(
    "from_id",
    [PeerChannel(GROUP.id), None],
    ids=["anonymous-admin-or-send-as-channel", "channel-post"],
)
def test_messages_not_sent_by_a_user_are_skipped_as_nobody_to_reach(from_id: Any) -> None:
    post = message(PeerChannel(GROUP.id), from_id=from_id, post=from_id is None)

    assert incoming_from_message(post, GROUP, GROUP, None) is None


# ---------------------------------------------------------------------------- chat refs


@pytest.mark.parametrize(
    ("ref", "kind", "value"),
    [
        ("@PyJobs", "username", "pyjobs"),
        ("  pyjobs  ", "username", "pyjobs"),
        ("t.me/pyjobs", "username", "pyjobs"),
        ("https://t.me/pyjobs/", "username", "pyjobs"),
        ("https://telegram.me/pyjobs?start=1", "username", "pyjobs"),
        ("https://t.me/pyjobs/1234", "username", "pyjobs"),
        ("https://t.me/s/pyjobs", "username", "pyjobs"),
        ("tg://resolve?domain=pyjobs", "username", "pyjobs"),
        ("https://t.me/+AbCd-EfGh_123", "invite", "AbCd-EfGh_123"),
        ("https://t.me/joinchat/AAAAAEkk2WdoDrB4-Q8-gg", "invite", "AAAAAEkk2WdoDrB4-Q8-gg"),
        ("tg://join?invite=AbCdEfGh", "invite", "AbCdEfGh"),
    ],
)
def test_chat_refs_parse_to_username_or_invite_hash(ref: str, kind: str, value: str) -> None:
    parsed = parse_chat_ref(ref)

    assert (parsed.kind, parsed.value) == (kind, value)


def test_canonical_refs() -> None:
    assert parse_chat_ref("t.me/PyJobs").ref == "@pyjobs"
    assert parse_chat_ref("t.me/joinchat/AbCdEfGh").ref == "https://t.me/+AbCdEfGh"


@pytest.mark.parametrize(
    ("ref", "message_part"),
    [
        ("", "empty"),
        ("@ab", "not a valid Telegram username"),
        ("@1python", "not a valid Telegram username"),
        ("@py__jobs", "not a valid Telegram username"),
        ("https://t.me/", "no chat in it"),
        ("https://t.me/+79991234567", "phone-number link"),
        ("https://t.me/+", "no valid hash"),
        ("https://t.me/joinchat/", "no valid hash"),
        ("https://t.me/c/1234567/89", "private chat"),
        ("https://t.me/proxy?server=h&port=1", "not chats"),
        ("https://t.me/pyjobs/about", "not a chat link"),
        ("https://example.com/pyjobs", "neither a t.me link nor a @username"),
    ],
)
def test_bad_chat_refs_say_what_is_wrong(ref: str, message_part: str) -> None:
    with pytest.raises(ValueError, match=message_part):
        parse_chat_ref(ref)


# ---------------------------------------------------------------------------- client wiring


async def test_client_is_built_so_every_flood_wait_reaches_our_scheduler() -> None:
    client = build_telegram_client(session="", api_id=1, api_hash="x")

    assert client.flood_sleep_threshold == 0


async def test_mtproxy_is_wired_as_connection_class_without_telethons_false_warning() -> None:
    proxy = parse_proxy_url("mtproxy://0123456789abcdef0123456789abcdef@mt.example.com:443")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = build_telegram_client(session="", api_id=1, api_hash="x", proxy=proxy)

    # Telethon has no public getters for these.
    assert client._connection is ConnectionTcpMTProxyRandomizedIntermediate
    assert client._proxy == ("mt.example.com", 443, "dd0123456789abcdef0123456789abcdef")


def test_a_corrupt_session_string_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not a valid Telethon string session"):
        build_telegram_client(session="1garbage!", api_id=1, api_hash="x")


# ---------------------------------------------------------------------------- the adapter

Answer = Any | Exception | Callable[[Any], Any]


class FakeTelegram:
    """Stands in for ``TelegramClient``: records requests, answers from ``answers`` by type."""

    def __init__(self, me: User | None = ANN) -> None:
        self.me = me
        self.requests: list[Any] = []
        self.answers: dict[type, Answer] = {}
        self.entities: dict[int | str, Any] = {}
        self.dialogs: list[Any] = []
        self.sent: list[tuple[Any, str]] = []
        self.replies: list[int | None] = []  # reply_to of each send_message
        self.files: list[tuple[Any, str, dict[str, Any]]] = []  # send_file calls
        self.history: list[Any] = []  # the dialog's messages, newest first
        self.history_error: Exception | None = None
        self.send_error: Exception | None = None
        self.handlers: list[tuple[Any, Any]] = []
        self.connected = False
        self.updates_error: Exception | None = None
        self._gone: Any = None

    async def connect(self) -> None:
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False
        if self._gone is not None:
            self._gone.set()

    async def get_me(self) -> User | None:
        return self.me

    async def __call__(self, request: Any) -> Any:
        self.requests.append(request)
        answer = self.answers.get(type(request))
        if isinstance(answer, Exception):
            raise answer
        return answer(request) if callable(answer) else answer

    async def get_input_entity(self, peer: int | str) -> Any:
        if peer not in self.entities:
            raise ValueError(f"Could not find the input entity for {peer}")
        return self.entities[peer]

    async def get_dialogs(self, limit: int | None = None) -> list[Any]:
        self.requests.append("get_dialogs")
        return self.dialogs

    async def send_message(self, entity: Any, text: str, reply_to: int | None = None) -> Message:
        self.sent.append((entity, text))
        self.replies.append(reply_to)
        if self.send_error is not None:
            raise self.send_error
        return Message(id=501, peer_id=utils.get_peer(entity), date=WHEN, message=text, out=True)

    async def send_file(self, entity: Any, file: str, **options: Any) -> Message:
        self.files.append((entity, file, options))
        if self.send_error is not None:
            raise self.send_error
        caption = options.get("caption") or ""
        return Message(id=502, peer_id=utils.get_peer(entity), date=WHEN, message=caption, out=True)

    async def get_messages(self, entity: Any, limit: int | None = None) -> list[Any]:
        self.requests.append(("get_messages", entity, limit))
        if self.history_error is not None:
            raise self.history_error
        return self.history[:limit]

    def add_event_handler(self, callback: Any, builder: Any) -> None:
        self.handlers.append((callback, builder))

    def remove_event_handler(self, callback: Any) -> None:
        self.handlers = [(c, b) for c, b in self.handlers if c != callback]

    async def run_until_disconnected(self) -> None:
        self._gone = asyncio.Event()
        if self.connected:
            await self._gone.wait()
        if self.updates_error is not None:
            raise self.updates_error

    async def dispatch(self, event: Any) -> None:
        """What Telethon's update loop does for each registered handler."""
        for callback, builder in self.handlers:
            await builder.resolve(self)
            if builder.filter(event):
                await callback(event)


@dataclass
class _Dialog:
    entity: Any


@pytest.fixture
def entity_cache() -> Any:
    """A never-connected TelegramClient: events take their entity cache from it."""
    return TelegramClient(StringSession(""), 1, "x")


def new_message_event(telethon: Any, msg: Message, *entities: Any) -> Any:
    """Build the event exactly as Telethon's dispatcher does (updates.EventBuilderDict)."""
    if isinstance(msg.peer_id, PeerChannel):
        update = types.UpdateNewChannelMessage(msg, pts=1, pts_count=1)
    else:
        update = types.UpdateNewMessage(msg, pts=1, pts_count=1)
    event = events.NewMessage.build(update, None, None)
    event._entities = {utils.get_peer_id(entity): entity for entity in entities}
    event._set_client(telethon)
    return event


def full_user(user: User, about: str | None) -> Callable[[Any], Any]:
    settings, notify = types.PeerSettings(), types.PeerNotifySettings()
    full = types.UserFull(user.id, settings, notify, common_chats_count=0, about=about)
    return lambda request: types.users.UserFull(full_user=full, chats=[], users=[user])


async def connected(fake: FakeTelegram, **options: Any) -> TelethonAccountClient:
    """Connected; the requests made while logging in are not counted by the tests."""
    client = TelethonAccountClient.over(fake, ClientOptions(**options))
    await client.connect()
    fake.requests.clear()
    return client


async def test_connect_returns_the_accounts_profile_and_listens_to_incoming_messages() -> None:
    fake = FakeTelegram()

    me = await connected(fake)

    assert me is not None and fake.connected
    assert [type(b) for _, b in fake.handlers] == [events.NewMessage]
    assert fake.handlers[0][1].incoming is True


@pytest.mark.parametrize(
    ("error", "port_error"),
    [
        (errors.AuthKeyUnregisteredError(request=None), SessionRevokedError),
        (errors.UserDeactivatedBanError(request=None), AccountBannedError),
    ],
)
async def test_connect_tells_a_banned_account_from_a_revoked_session(
    error: Exception, port_error: type[TelegramError]
) -> None:
    fake = FakeTelegram(me=None)  # what get_me returns for any 401
    fake.answers[GetUsersRequest] = error
    client = TelethonAccountClient.over(fake)

    with pytest.raises(port_error):
        await client.connect()
    assert not fake.connected


async def test_flood_wait_on_send_is_raised_with_its_seconds_not_slept_through() -> None:
    fake = FakeTelegram()
    fake.entities["@ann_lee"] = utils.get_input_peer(ANN)
    fake.send_error = errors.FloodWaitError(request=None, capture=42)
    client = TelethonAccountClient.over(fake)

    with pytest.raises(FloodWait) as caught:
        await client.send_message("@ann_lee", "hello")
    assert caught.value.seconds == 42


async def test_send_message_returns_marked_chat_id_and_message_id() -> None:
    fake = FakeTelegram()
    fake.entities[ANN.id] = utils.get_input_peer(ANN)

    sent = await TelethonAccountClient.over(fake).send_message(ANN.id, "hello")

    assert (sent.chat_id, sent.message_id) == (ANN.id, 501)


async def test_sending_to_a_user_this_account_never_saw_is_chat_not_found() -> None:
    client = TelethonAccountClient.over(FakeTelegram())

    with pytest.raises(ChatNotFound, match="unknown to this account"):
        await client.send_message(999, "hello")


async def test_joining_a_chat_the_account_is_already_in_sends_no_request() -> None:
    fake = FakeTelegram()
    fake.dialogs = [_Dialog(GROUP)]

    info = await TelethonAccountClient.over(fake).join_chat("https://t.me/PyJobs")

    assert (info.chat_id, info.ref, info.title) == (-1000000002001, "@pyjobs", "Python Jobs")
    assert fake.requests == ["get_dialogs"]


async def test_joining_a_public_chat_resolves_then_joins_once() -> None:
    fake = FakeTelegram()
    fake.answers[ResolveUsernameRequest] = types.contacts.ResolvedPeer(
        PeerChannel(GROUP.id), chats=[GROUP], users=[]
    )
    client = TelethonAccountClient.over(fake)

    first = await client.join_chat("@pyjobs")
    second = await client.join_chat("t.me/pyjobs")

    assert first == second and first.chat_id == -1000000002001
    assert [type(r).__name__ for r in fake.requests[1:]] == [
        "ResolveUsernameRequest",
        "JoinChannelRequest",
    ]


async def test_already_participant_is_a_successful_join() -> None:
    fake = FakeTelegram()
    fake.answers[ResolveUsernameRequest] = types.contacts.ResolvedPeer(
        PeerChannel(GROUP.id), chats=[GROUP], users=[]
    )
    fake.answers[JoinChannelRequest] = errors.UserAlreadyParticipantError(request=None)

    info = await TelethonAccountClient.over(fake).join_chat("@pyjobs")

    assert info.chat_id == -1000000002001


async def test_a_username_of_a_person_is_not_a_chat_to_join() -> None:
    fake = FakeTelegram()
    fake.answers[ResolveUsernameRequest] = types.contacts.ResolvedPeer(
        PeerUser(ANN.id), chats=[], users=[ANN]
    )

    with pytest.raises(ChatNotFound, match="is a user"):
        await TelethonAccountClient.over(fake).join_chat("@ann_lee")


async def test_joining_past_500_channels_reports_the_account_limit() -> None:
    fake = FakeTelegram()
    fake.answers[ResolveUsernameRequest] = types.contacts.ResolvedPeer(
        PeerChannel(GROUP.id), chats=[GROUP], users=[]
    )
    fake.answers[JoinChannelRequest] = errors.ChannelsTooMuchError(request=None)

    with pytest.raises(ChatLimitReached):
        await TelethonAccountClient.over(fake).join_chat("@pyjobs")


async def test_a_bad_chat_ref_is_chat_not_found_with_the_reason() -> None:
    with pytest.raises(ChatNotFound, match="phone-number link"):
        await TelethonAccountClient.over(FakeTelegram()).join_chat("t.me/+79991234567")


async def test_invite_links_are_imported() -> None:
    fake = FakeTelegram()
    fake.answers[ImportChatInviteRequest] = types.Updates([], [], [SECRET_GROUP], WHEN, 0)

    info = await TelethonAccountClient.over(fake).join_chat("https://t.me/+AbCdEfGh")

    assert (info.chat_id, info.ref, info.title) == (
        -1000000002002,
        "https://t.me/+AbCdEfGh",
        "Inner Circle",
    )
    assert [r.hash for r in fake.requests] == ["AbCdEfGh"]


async def test_invite_for_a_chat_already_joined_is_a_success_that_names_the_chat() -> None:
    fake = FakeTelegram()
    fake.answers[ImportChatInviteRequest] = errors.UserAlreadyParticipantError(request=None)
    fake.answers[CheckChatInviteRequest] = types.ChatInviteAlready(SECRET_GROUP)

    info = await TelethonAccountClient.over(fake).join_chat("t.me/joinchat/AbCdEfGh")

    assert info.chat_id == -1000000002002


async def test_leaving_a_supergroup_sends_leave_channel_and_not_being_there_is_fine() -> None:
    fake = FakeTelegram()
    fake.entities[-1000000002001] = utils.get_input_peer(GROUP)
    fake.answers[LeaveChannelRequest] = errors.UserNotParticipantError(request=None)

    await TelethonAccountClient.over(fake).leave_chat(-1000000002001)

    assert [type(r) for r in fake.requests] == [LeaveChannelRequest]


async def test_incoming_messages_arrive_in_order_with_bio_fetched_once_per_user(
    entity_cache: Any,
) -> None:
    fake = FakeTelegram()
    fake.answers[GetFullUserRequest] = full_user(ANN, "Backend dev")
    client = await connected(fake)
    stream = client.incoming()

    for text in ("first", "second"):
        event = new_message_event(entity_cache, message(PeerChannel(2001), text), GROUP, ANN)
        await fake.dispatch(event)
    got = [await anext(stream), await anext(stream)]

    assert [m.text for m in got] == ["first", "second"]
    assert [m.sender.bio for m in got] == ["Backend dev", "Backend dev"]
    assert [m.link for m in got] == ["https://t.me/pyjobs/77"] * 2
    assert [type(r) for r in fake.requests] == [GetFullUserRequest]
    await client.disconnect()


async def test_outgoing_messages_are_not_delivered(entity_cache: Any) -> None:
    fake = FakeTelegram()
    client = await connected(fake)

    own = message(PeerChannel(2001), "our own post", out=True)
    await fake.dispatch(new_message_event(entity_cache, own, GROUP, ANN))
    await client.disconnect()

    assert [m async for m in client.incoming()] == []


async def test_flood_wait_on_a_bio_delivers_the_message_and_pauses_bio_lookups(
    entity_cache: Any,
) -> None:
    now = [1000.0]
    fake = FakeTelegram()
    fake.answers[GetFullUserRequest] = errors.FloodWaitError(request=None, capture=60)
    client = await connected(fake, clock=lambda: now[0])
    stream = client.incoming()

    for _ in range(2):
        await fake.dispatch(new_message_event(entity_cache, message(PeerChannel(2001)), GROUP, ANN))
    got = [await anext(stream), await anext(stream)]

    assert [m.sender.bio for m in got] == [None, None]
    assert len(fake.requests) == 1  # the second message did not ask again during the wait
    now[0] += 61
    await fake.dispatch(new_message_event(entity_cache, message(PeerChannel(2001)), GROUP, ANN))
    await anext(stream)
    assert len(fake.requests) == 2  # the wait is over: bios are looked up again
    await client.disconnect()


async def test_min_sender_without_username_gets_it_from_the_full_profile(
    entity_cache: Any,
) -> None:
    min_ann = User(id=ANN.id, min=True, first_name="Ann")
    fake = FakeTelegram()
    fake.answers[GetFullUserRequest] = full_user(ANN, None)
    client = await connected(fake)

    await fake.dispatch(new_message_event(entity_cache, message(PeerChannel(2001)), GROUP, min_ann))
    got = await anext(client.incoming())

    assert got.sender.username == "ann_lee"
    await client.disconnect()


async def test_a_revoked_session_ends_the_stream_with_session_revoked() -> None:
    fake = FakeTelegram()
    client = await connected(fake)
    fake.updates_error = errors.AuthKeyUnregisteredError(request=None)

    await fake.disconnect()

    with pytest.raises(SessionRevokedError):
        await anext(client.incoming())


async def test_a_lost_connection_ends_the_stream_with_an_error_that_is_not_a_wait() -> None:
    fake = FakeTelegram()
    client = await connected(fake)
    fake.updates_error = errors.FloodWaitError(request=None, capture=5)

    await fake.disconnect()

    with pytest.raises(TelegramError, match="disconnected") as caught:
        await anext(client.incoming())
    assert not isinstance(caught.value, FloodWait)


async def test_profiles_are_cached_until_their_ttl_expires() -> None:
    now = [0.0]
    fake = FakeTelegram()
    fake.entities[ANN.id] = utils.get_input_peer(ANN)
    fake.answers[GetFullUserRequest] = full_user(ANN, "Backend dev")
    client = TelethonAccountClient.over(fake, ClientOptions(profile_ttl=60, clock=lambda: now[0]))

    first = await client.get_profile(ANN.id)
    await client.get_profile(ANN.id)
    now[0] = 61.0
    await client.get_profile(ANN.id)

    assert first.bio == "Backend dev"
    assert len(fake.requests) == 2


async def test_connecting_again_does_not_deliver_each_message_twice() -> None:
    fake = FakeTelegram()
    client = await connected(fake)

    await client.connect()

    assert len(fake.handlers) == 1
    await client.disconnect()


async def test_profile_cache_keeps_only_the_most_recent_users() -> None:
    bob = User(id=102, access_hash=12, first_name="Bob")
    fake = FakeTelegram()
    fake.entities.update({ANN.id: utils.get_input_peer(ANN), bob.id: utils.get_input_peer(bob)})
    answers = {ANN.id: full_user(ANN, None), bob.id: full_user(bob, None)}
    fake.answers[GetFullUserRequest] = lambda request: answers[request.id.user_id](request)
    client = TelethonAccountClient.over(fake, ClientOptions(profile_cache_size=1))

    for user_id in (ANN.id, bob.id, ANN.id):
        await client.get_profile(user_id)

    assert len(fake.requests) == 3  # Ann was evicted by Bob


async def test_typing_is_one_set_typing_request() -> None:
    fake = FakeTelegram()
    fake.entities[ANN.id] = utils.get_input_peer(ANN)

    await TelethonAccountClient.over(fake).send_typing(ANN.id)

    assert [type(r).__name__ for r in fake.requests] == ["SetTypingRequest"]
    assert isinstance(fake.requests[0].action, types.SendMessageTypingAction)


async def test_recent_outgoing_is_what_the_account_sent_among_the_latest_newest_first() -> None:
    fake = FakeTelegram()
    peer = fake.entities[ANN.id] = utils.get_input_peer(ANN)
    joined = types.MessageService(
        id=4,
        peer_id=PeerUser(ANN.id),
        date=WHEN,
        action=types.MessageActionContactSignUp(),
        out=True,
    )
    fake.history = [
        joined,
        Message(id=3, peer_id=PeerUser(ANN.id), date=WHEN, message="two", out=True),
        Message(id=2, peer_id=PeerUser(ANN.id), date=WHEN, message="thanks, what rate?"),
        Message(id=1, peer_id=PeerUser(ANN.id), date=WHEN, message="one", out=True),
        Message(id=0, peer_id=PeerUser(ANN.id), date=WHEN, message="older", out=True),
    ]

    recent = await TelethonAccountClient.over(fake).recent_outgoing(ANN.id, limit=4)

    assert [(m.message_id, m.text) for m in recent] == [(3, "two"), (1, "one")]
    assert recent[0].date_ts == WHEN.timestamp()
    assert fake.requests == [("get_messages", peer, 4)]


async def test_recent_outgoing_maps_telegram_errors_to_the_port() -> None:
    fake = FakeTelegram()
    fake.entities[ANN.id] = utils.get_input_peer(ANN)
    fake.history_error = errors.FloodWaitError(request=None, capture=9)

    with pytest.raises(FloodWait):
        await TelethonAccountClient.over(fake).recent_outgoing(ANN.id)
    with pytest.raises(ChatNotFound):
        await TelethonAccountClient.over(FakeTelegram()).recent_outgoing(999)
