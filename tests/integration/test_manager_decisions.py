"""The manager's decisions on a real database (SQLite and PostgreSQL): conversations, the contact
registry, opt-out, handoff, approval, expiry and moving a lost account's work. The offline
template writer writes; what a user would see is read back from the tables and the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from admin.workspace.apply import apply_workspace, read_workspace
from core.bus import PermanentError
from core.db import Database
from core.db.models import (
    Account,
    Campaign,
    Contact,
    ConversationMessage,
    SentKey,
)
from core.events import SendFailed, SendFailure
from core.security import SecretBox
from core.settings import Settings
from manager.conversations import Conversations
from manager.dispatcher import expire_drafts
from manager.writers import make_writer
from sandbox.bootstrap import RunningSandbox
from tests.integration.conftest import World, workspace


def send_failed(
    queued: ConversationMessage, user: int, reason: SendFailure, **extra: Any
) -> SendFailed:
    """What the worker reports when ``queued``'s command could not be sent."""
    assert queued.account_id is not None and queued.idempotency_key is not None
    return SendFailed(
        idempotency_key=queued.idempotency_key,
        account_id=queued.account_id,
        conversation_id=queued.conversation_id,
        message_id=queued.id,
        peer_user_id=user,
        reason=reason,
        **extra,
    )


@pytest.fixture
async def world(
    database: Database, secret_box: SecretBox, tmp_path: Path, request: pytest.FixtureRequest
) -> World:
    extra = getattr(request, "param", "")
    path = tmp_path / "ws.yaml"
    path.write_text(workspace(extra), encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    return World(database)


async def test_a_lead_gets_one_send_command_even_when_its_event_comes_twice(world: World) -> None:
    found = await world.lead(user=501)
    await world.conversations.on_lead(found)
    await world.conversations.on_lead(found)
    assert await world.dispatcher.dispatch_due() == 1
    assert await world.dispatcher.dispatch_due() == 0

    commands = await world.events("command.send")
    assert len(commands) == 1
    routing_key, command = commands[0]
    assert routing_key == f"account.{command['account_id']}.command.send"
    assert command["peer_user_id"] == 501
    assert "Анна" in command["text"] and "Сайты за месяц." in command["text"]
    [message] = await world.outbound(501)
    assert message.status == "queued" and message.idempotency_key == command["idempotency_key"]
    assert message.writer == "template" and message.stage == "introduction"


async def test_a_person_found_by_two_campaigns_gets_one_first_message(world: World) -> None:
    await world.conversations.on_lead(await world.lead(user=502, campaign=1))
    await world.conversations.on_lead(await world.lead(user=502, campaign=2))
    first, second = await world.conversations_of(502)
    assert first.status == "active"
    assert second.status == "skipped"
    assert second.reason is not None and "already contacted by campaign 1" in second.reason
    assert len(await world.outbound(502)) == 1


async def test_opt_out_confirms_once_and_every_campaign_keeps_away(world: World) -> None:
    await world.conversations.on_lead(await world.lead(user=503))
    await world.dispatcher.dispatch_due()
    [conversation] = await world.conversations_of(503)
    assert conversation.account_id is not None
    await world.reply(503, conversation.account_id, "Не пишите мне больше!")
    await world.reply(503, conversation.account_id, "стоп")

    messages = await world.outbound(503)
    assert [m.kind for m in messages] == ["first", "opt_out_ack"]
    async with world.db.session() as session:
        contact = await session.get(Contact, 503)
    assert contact is not None and contact.do_not_contact
    assert len(await world.events("contact.opted_out")) >= 1

    async with world.db.transaction() as session:  # the registry window alone would allow it
        await session.execute(update(Contact).values(first_contacted_at=None))
    await world.conversations.on_lead(await world.lead(user=503, campaign=2))
    other = (await world.conversations_of(503))[1]
    assert other.status == "skipped" and other.reason is not None
    assert other.reason.startswith("do not contact")


async def test_asking_for_a_person_hands_the_conversation_off(world: World) -> None:
    await world.conversations.on_lead(await world.lead(user=504))
    [conversation] = await world.conversations_of(504)
    assert conversation.account_id is not None
    await world.reply(504, conversation.account_id, "Позовите человека, пожалуйста")
    await world.reply(504, conversation.account_id, "Ну что там?")

    [conversation] = await world.conversations_of(504)
    assert conversation.status == "handoff"
    [(_, handoff)] = await world.events("conversation.handoff")
    assert handoff["conversation_id"] == conversation.id and handoff["by"] == "manager"
    assert len(await world.outbound(504)) == 1  # no automatic answer after the handoff


async def test_a_conversation_stops_after_its_turn_limit(world: World) -> None:
    await world.conversations.on_lead(await world.lead(user=505))
    [conversation] = await world.conversations_of(505)
    assert conversation.account_id is not None
    for n in range(4):
        await world.reply(505, conversation.account_id, f"Расскажите подробнее, вопрос {n}")
    [conversation] = await world.conversations_of(505)
    assert conversation.status == "finished"
    assert len(await world.outbound(505)) == 3  # max_turns: 3


@pytest.mark.parametrize("world", [", approval: true, approval_hours: 1"], indirect=True)
async def test_approval_holds_the_draft_and_an_expired_one_frees_the_contact(
    world: World,
) -> None:
    await world.conversations.on_lead(await world.lead(user=506))
    [draft] = await world.outbound(506)
    assert draft.status == "pending_approval"
    [(_, pending)] = await world.events("draft.pending")
    assert pending["message_id"] == draft.id
    assert await world.dispatcher.dispatch_due() == 0

    async with world.db.transaction() as session:
        await session.execute(
            update(ConversationMessage).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await expire_drafts(world.db) == 1
    [draft] = await world.outbound(506)
    assert draft.status == "expired"
    async with world.db.session() as session:
        contact = await session.get(Contact, 506)
    assert contact is not None and contact.first_contacted_at is None


async def test_a_lost_account_hands_its_queued_message_to_the_other_account_once(
    world: World,
) -> None:
    await world.conversations.on_lead(await world.lead(user=507))
    await world.dispatcher.dispatch_due()
    [queued] = await world.outbound(507)
    lost = queued.account_id
    assert lost is not None and queued.idempotency_key is not None
    failed = send_failed(queued, 507, "peer_flood")
    await world.delivery.on_account_lost(lost)
    await world.delivery.on_send_failed(failed)  # arrives after the ban: changes nothing more
    await world.dispatcher.dispatch_due()

    [moved] = await world.outbound(507)
    assert moved.account_id not in (None, lost)
    assert moved.status == "queued" and moved.idempotency_key != queued.idempotency_key
    async with world.db.session() as session:
        fence = await session.get(SentKey, queued.idempotency_key)
    assert fence is not None and fence.status == "failed"  # the old command can never send
    commands = [c for _, c in await world.events("command.send")]
    assert [c["account_id"] for c in commands] == [lost, moved.account_id]


async def test_a_lead_of_an_unknown_campaign_is_refused_for_good(world: World) -> None:
    found = await world.lead(user=508)
    bogus = found.model_copy(update={"campaign_id": 999})
    with pytest.raises(PermanentError, match="campaign 999 does not exist"):
        await world.conversations.on_lead(bogus)


async def test_a_user_who_blocks_us_is_never_written_to_again_and_gets_no_confirmation(
    world: World,
) -> None:
    await world.conversations.on_lead(await world.lead(user=509))
    await world.dispatcher.dispatch_due()
    [queued] = await world.outbound(509)
    assert queued.account_id is not None and queued.idempotency_key is not None
    await world.delivery.on_send_failed(send_failed(queued, 509, "forbidden"))
    [failed] = await world.outbound(509)
    assert failed.status == "failed"
    async with world.db.session() as session:
        contact = await session.get(Contact, 509)
    assert contact is not None and contact.do_not_contact and contact.dnc_reason == "blocked us"
    [conversation] = await world.conversations_of(509)
    assert conversation.status == "opted_out"


async def test_a_campaign_writes_with_its_own_llm_endpoint_and_encrypted_key(
    database: Database, secret_box: SecretBox, tmp_path: Path, sandbox: RunningSandbox
) -> None:
    key = "sk-campaign-own-7777"
    text = workspace().replace(
        "    outreach: {quiet_hours: null,",
        f'    llm_api_key: "{key}"\n    outreach: {{llm_base_url: "{sandbox.url}/v1", '
        "llm_model: own-model, quiet_hours: null,",
        1,
    )
    path = tmp_path / "ws.yaml"
    path.write_text(text, encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
        stored = await session.scalar(select(Campaign.llm_key_secret).where(Campaign.id == 1))
    assert stored is not None and key not in stored

    world = World(database)
    writer = make_writer(Settings(llm_base_url=None))
    world.conversations = Conversations(database, world.relay, writer, box=secret_box)
    try:
        await world.conversations.on_lead(await world.lead(user=510))
    finally:
        await writer.close()
    [message] = await world.outbound(510)
    assert message.writer == "llm:own-model" and message.status == "scheduled"
    async with httpx.AsyncClient() as http:
        seen = (await http.get(f"{sandbox.url}/_sandbox/llm")).json()
    assert seen["key_suffixes"] == ["7777"]


async def test_with_no_account_left_a_moved_message_waits_for_an_operator(world: World) -> None:
    await world.conversations.on_lead(await world.lead(user=511, campaign=2))  # one manager only
    await world.dispatcher.dispatch_due()
    [queued] = await world.outbound(511)
    assert queued.account_id is not None
    await world.delivery.on_account_lost(queued.account_id)

    [held] = await world.outbound(511)
    assert held.status == "pending_approval" and held.expires_at is not None
    assert held.reason == "no active manager account left in the campaign"
    [(_, pending)] = await world.events("draft.pending")
    assert pending["message_id"] == held.id
    assert await world.dispatcher.dispatch_due() == 0


async def test_a_send_handed_back_by_a_long_flood_wait_goes_again_later_under_a_new_key(
    world: World,
) -> None:
    await world.conversations.on_lead(await world.lead(user=512))
    await world.dispatcher.dispatch_due()
    [queued] = await world.outbound(512)
    assert queued.account_id is not None and queued.idempotency_key is not None
    retry_after = datetime.now(UTC) + timedelta(minutes=30)
    await world.delivery.on_send_failed(
        send_failed(queued, 512, "flood_wait", retry_after=retry_after)
    )
    [waiting] = await world.outbound(512)
    assert waiting.status == "scheduled" and waiting.send_after is not None
    assert waiting.send_after.replace(tzinfo=UTC) >= retry_after
    assert await world.dispatcher.dispatch_due() == 0, "not before Telegram allows"

    async with world.db.transaction() as session:  # half an hour later
        await session.execute(
            update(ConversationMessage).values(send_after=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await world.dispatcher.dispatch_due() == 1
    keys = [c["idempotency_key"] for _, c in await world.events("command.send")]
    assert keys == [queued.idempotency_key, f"{queued.idempotency_key}-t1"]
    [conversation] = await world.conversations_of(512)
    assert conversation.account_id == queued.account_id, "the same account, once allowed"


async def test_a_message_moved_back_to_an_account_that_lost_it_is_sent_under_a_fresh_key(
    world: World,
) -> None:
    await world.conversations.on_lead(await world.lead(user=513))
    await world.dispatcher.dispatch_due()
    [first] = await world.outbound(513)
    assert first.account_id is not None
    await world.delivery.on_account_lost(first.account_id)  # moved to the other account
    await world.dispatcher.dispatch_due()
    [second] = await world.outbound(513)
    assert second.account_id not in (None, first.account_id)
    async with world.db.transaction() as session:  # the first account comes back, the second goes
        await session.execute(
            update(Account).where(Account.id == first.account_id).values(status="active")
        )
    assert second.account_id is not None
    await world.delivery.on_account_lost(second.account_id)
    await world.dispatcher.dispatch_due()

    [third] = await world.outbound(513)
    assert third.account_id == first.account_id and third.status == "queued"
    keys = [c["idempotency_key"] for _, c in await world.events("command.send")]
    assert len(set(keys)) == 3 and keys[-1] == third.idempotency_key
    async with world.db.session() as session:
        fences = set(await session.scalars(select(SentKey.idempotency_key)))
    assert third.idempotency_key not in fences, "its worker would drop a fenced key unsent"
