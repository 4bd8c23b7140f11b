"""A restarted Telethon worker resumes Telegram's update sequence where its last published message
left it, so DMs sent while it was down still arrive (tested at the Telethon client boundary)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from telethon import TelegramClient, events, types, utils
from telethon.sessions import StringSession
from telethon.tl.functions.updates import GetStateRequest
from telethon.tl.functions.users import GetFullUserRequest
from telethon.tl.types import Message, PeerChannel, PeerUser

from bots.telethon_client import TelethonAccountClient, build_telegram_client
from bots.telethon_updates import UpdatesState
from tests.unit.test_telethon_adapter import ANN, GROUP, FakeTelegram, full_user

SERVER_STATE = types.updates.State(
    pts=40, qts=3, date=datetime(2026, 5, 1, tzinfo=UTC), seq=9, unread_count=0
)
LATER = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)


def event(telethon: Any, peer: Any, *, pts: int, text: str = "да, интересно") -> Any:
    """A new message as Telethon's dispatcher builds it, with its place in the sequence."""
    message = Message(id=pts, peer_id=peer, date=LATER, message=text, from_id=PeerUser(ANN.id))
    if isinstance(peer, PeerChannel):
        update: Any = types.UpdateNewChannelMessage(message, pts=pts, pts_count=1)
    else:
        update = types.UpdateNewMessage(message, pts=pts, pts_count=1)
    built = events.NewMessage.build(update, None, None)
    built.original_update = update  # as Telethon's dispatcher (EventBuilderDict) sets it
    built._entities = {utils.get_peer_id(entity): entity for entity in (ANN, GROUP)}
    built._set_client(telethon)
    return built


async def test_a_direct_message_carries_the_sequence_state_after_it_as_its_cursor() -> None:
    fake = FakeTelegram()
    fake.answers[GetStateRequest] = SERVER_STATE
    fake.answers[GetFullUserRequest] = full_user(ANN, None)
    client = TelethonAccountClient.over(fake)
    await client.connect()
    stream = client.incoming()
    cache = TelegramClient(StringSession(""), 1, "x")

    await fake.dispatch(event(cache, PeerUser(ANN.id), pts=41))
    await fake.dispatch(event(cache, PeerChannel(GROUP.id), pts=7, text="need a dev"))
    dm, chat = await anext(stream), await anext(stream)

    after_dm = UpdatesState(pts=41, qts=3, date=int(LATER.timestamp()), seq=9)
    assert UpdatesState.decode(dm.cursor) == after_dm
    assert chat.cursor == dm.cursor, "a supergroup's own sequence does not move the common one"
    await client.disconnect()


async def test_a_saved_cursor_is_resumed_from_instead_of_asking_for_the_current_state() -> None:
    saved = UpdatesState(pts=41, qts=3, date=int(LATER.timestamp()), seq=9)
    fake = FakeTelegram()
    fake.answers[GetStateRequest] = SERVER_STATE
    client = TelethonAccountClient.over(fake, resume=saved)

    await client.connect()

    assert fake.requests == [], "the current state would skip what arrived meanwhile"
    await client.disconnect()


def test_a_client_built_with_a_saved_state_catches_up_from_it_when_it_connects() -> None:
    saved = UpdatesState(pts=41, qts=3, date=int(LATER.timestamp()), seq=9)

    client = build_telegram_client(session="", api_id=1, api_hash="x", resume=saved)

    [(entity, state)] = client.session.get_update_states()
    assert entity == 0 and (state.pts, state.qts, state.seq) == (41, 3, 9)
    assert state.date == LATER
    assert client._catch_up is True  # Telethon has no public getter for it


def test_a_first_start_has_nothing_to_catch_up_on() -> None:
    client = build_telegram_client(session="", api_id=1, api_hash="x")

    assert list(client.session.get_update_states()) == []
    assert client._catch_up is False


def test_cursors_of_another_backend_or_damaged_ones_are_not_resumed_from() -> None:
    assert UpdatesState.decode(None) is None
    assert UpdatesState.decode("17") is None  # the sandbox's inbox position
    assert UpdatesState.decode("tg1:41:3:x:9") is None
    state = UpdatesState(pts=41, qts=3, date=1_777_000_000, seq=9)
    assert UpdatesState.decode(state.encode()) == state
