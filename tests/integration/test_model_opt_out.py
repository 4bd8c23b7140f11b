"""An opt-out only the model notices (its ``opted_out`` answer, no phrase of the list) is handled
exactly like a detected phrase: do-not-contact for every campaign, one confirmation, silence.

The real ``LlmWriter`` asks the sandbox's chat completions, whose model judges a lead opted out
when their words contain one of ``sandbox.llm.OPT_OUT_CUES``; its reply text in that turn is an
ordinary sales phrase, which must never reach the lead."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import update

from admin.workspace.apply import apply_workspace, read_workspace
from core.db import Database
from core.db.models import Contact
from core.outreach import DEFAULT_OPT_OUT_REPLY
from core.security import SecretBox
from core.settings import Settings
from manager.conversations import Conversations
from manager.optout import OptOutDetector
from manager.writers import LlmWriter
from sandbox.bootstrap import RunningSandbox
from sandbox.llm import PHRASES
from tests.integration.conftest import World, workspace

ONLY_THE_MODEL_NOTICES = "Please lose my number, we found a team last week."


@pytest.fixture
async def world(
    database: Database, secret_box: SecretBox, tmp_path: Path, sandbox: RunningSandbox
) -> AsyncIterator[World]:
    """The manager's world of ``test_manager_decisions``, writing with the LLM in the sandbox."""
    path = tmp_path / "ws.yaml"
    path.write_text(workspace(), encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    writer = LlmWriter(
        Settings(llm_base_url=f"{sandbox.url}/v1", llm_api_key="sandbox-key", llm_model="sbx")
    )
    world = World(database)
    world.conversations = Conversations(database, world.relay, writer)
    yield world
    await writer.close()


def test_the_cue_is_not_an_opt_out_phrase() -> None:
    """Precondition of the tests below: only the model can notice this opt-out."""
    assert not OptOutDetector().is_opt_out(ONLY_THE_MODEL_NOTICES)
    assert not OptOutDetector().is_opt_out("Ищу разработчика. Забудьте мой номер, пишите в чат")


async def test_an_opt_out_only_the_model_notices_is_confirmed_once_and_every_campaign_keeps_away(
    world: World,
) -> None:
    await world.conversations.on_lead(await world.lead(user=601))
    await world.dispatcher.dispatch_due()
    [conversation] = await world.conversations_of(601)
    assert conversation.account_id is not None
    await world.reply(601, conversation.account_id, ONLY_THE_MODEL_NOTICES)
    await world.reply(601, conversation.account_id, f"I said: {ONLY_THE_MODEL_NOTICES}")
    await world.dispatcher.dispatch_due()

    sent = await world.outbound(601)
    assert [m.kind for m in sent] == ["first", "opt_out_ack"], [m.text for m in sent]
    first, ack = sent
    assert first.writer == "llm:sbx"
    assert (ack.kind, ack.text, ack.status) == ("opt_out_ack", DEFAULT_OPT_OUT_REPLY, "queued")
    commands = [c for _, c in await world.events("command.send")]
    assert [c["text"] for c in commands] == [first.text, DEFAULT_OPT_OUT_REPLY]
    assert not set(PHRASES) & {c["text"] for c in commands[1:]}, "the model's pitch never goes"
    [conversation] = await world.conversations_of(601)
    assert conversation.status == "opted_out"
    async with world.db.session() as session:
        contact = await session.get(Contact, 601)
    assert contact is not None and contact.do_not_contact
    [(_, opted_out)] = await world.events("contact.opted_out")
    assert opted_out["conversation_id"] == conversation.id

    async with world.db.transaction() as session:  # the registry window alone would allow it
        await session.execute(update(Contact).values(first_contacted_at=None))
    await world.conversations.on_lead(await world.lead(user=601, campaign=2))
    other = (await world.conversations_of(601))[1]
    assert other.status == "skipped" and other.reason is not None
    assert other.reason.startswith("do not contact")
    assert len(await world.outbound(601)) == 2


async def test_a_post_the_model_reads_as_no_dms_gets_no_first_message_and_no_confirmation(
    world: World,
) -> None:
    post = "Ищу разработчика. Забудьте мой номер, пишите в чат"
    await world.conversations.on_lead(await world.lead(user=602, text=post))
    await world.dispatcher.dispatch_due()

    assert await world.outbound(602) == []
    assert await world.events("command.send") == []
    [conversation] = await world.conversations_of(602)
    assert conversation.status == "opted_out"
    async with world.db.session() as session:
        contact = await session.get(Contact, 602)
    assert contact is not None and contact.do_not_contact
    assert len(await world.events("contact.opted_out")) == 1
