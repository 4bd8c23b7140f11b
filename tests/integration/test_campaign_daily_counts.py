"""The manager's campaign daily counts (what the dashboard reads) on a real database: a first DM
reported sent, the person's answer and their opt-out each add one to today's row, in the
transaction of the event (a rolled-back one adds nothing, a redelivered one nothing more); the
tokens of a written message are added the day it is written; and migration 0011 fills the table
from existing rows exactly as the manager would have kept it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from admin.workspace.apply import apply_workspace, read_workspace
from core.db import Database
from core.db.migrate import alembic_config
from core.db.models import CampaignDailyCount, Conversation, ConversationMessage
from core.events import MessageSent
from core.security import SecretBox
from manager import store
from manager.conversations import Conversations
from manager.writers import Draft, TemplateWriter, WriteRequest
from tests.integration.conftest import World, workspace

CAMPAIGN = 1
Row = tuple[int, int, int, int, float]  # first DMs, replies, opt-outs, tokens, cost


class PricedWriter:
    """The offline template writer, with what an LLM would have charged for each text."""

    async def write(self, request: WriteRequest) -> Draft:
        draft = await TemplateWriter().write(request)
        update = {"prompt_tokens": 300, "completion_tokens": 40, "cost": 0.25}
        return draft.model_copy(update=update)

    async def close(self) -> None:
        return None  # nothing open: the template writer calls no one


@pytest.fixture
async def world(database: Database, secret_box: SecretBox, tmp_path: Path) -> World:
    path = tmp_path / "ws.yaml"
    path.write_text(workspace(), encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    return World(database)


async def counts(db: Database, day: date | None = None) -> dict[str, Row]:
    """Campaign 1's counts per template version on ``day`` (today by default)."""
    c = CampaignDailyCount
    async with db.session() as session:
        rows = await session.execute(
            select(
                c.template_version,
                c.first_dms,
                c.replies,
                c.opt_outs,
                c.prompt_tokens + c.completion_tokens,
                c.cost,
            ).where(c.campaign_id == CAMPAIGN, c.day == (day or datetime.now(UTC).date()))
        )
        return {
            version: (int(first), int(replies), int(opt_outs), int(tokens), float(cost))
            for version, first, replies, opt_outs, tokens, cost in rows
        }


def totals(found: dict[str, Row]) -> Row:
    rows = found.values()
    first, replies, opt_outs, tokens = (sum(int(row[n]) for row in rows) for n in range(4))
    return first, replies, opt_outs, tokens, round(sum(row[4] for row in rows), 6)


async def first_dm(world: World, user: int) -> ConversationMessage:
    """A lead's first DM, written and queued for its account."""
    await world.conversations.on_lead(await world.lead(user=user))
    await world.dispatcher.dispatch_due()
    [queued] = await world.outbound(user)
    assert queued.status == "queued" and queued.account_id is not None
    return queued


def sent_report(queued: ConversationMessage, user: int, at: datetime | None = None) -> MessageSent:
    assert queued.account_id is not None and queued.idempotency_key is not None
    return MessageSent(
        idempotency_key=queued.idempotency_key,
        account_id=queued.account_id,
        conversation_id=queued.conversation_id,
        message_id=queued.id,
        peer_user_id=user,
        telegram_message_id=700 + user,
        sent_at=at or datetime.now(UTC),
    )


async def test_a_first_dm_a_reply_and_an_opt_out_add_one_each_to_todays_row(world: World) -> None:
    queued = await first_dm(world, 601)
    assert totals(await counts(world.db)) == (0, 0, 0, 0, 0.0)  # written, not sent yet
    version = queued.template_version or ""

    await world.delivery.on_sent(sent_report(queued, 601))
    await world.delivery.on_sent(sent_report(queued, 601))  # the report redelivered
    assert (await counts(world.db))[version][:3] == (1, 0, 0)

    assert queued.account_id is not None
    await world.reply(601, queued.account_id, "Расскажите подробнее")
    await world.reply(601, queued.account_id, "И сколько это стоит?")  # the same person again
    assert (await counts(world.db))[version][:3] == (1, 1, 0)

    await world.reply(601, queued.account_id, "Не пишите мне больше!")
    found = await counts(world.db)
    assert version and found[version][:3] == (1, 1, 0)
    assert found[""][2] == 1  # an opt-out has no prompt version
    assert totals(found)[:3] == (1, 1, 1)


async def test_a_reply_counts_on_its_first_dms_day_even_before_the_sent_report(
    world: World,
) -> None:
    queued = await first_dm(world, 602)
    assert queued.account_id is not None
    await world.reply(602, queued.account_id, "Да, интересно")  # quicker than the report
    assert totals(await counts(world.db))[:2] == (0, 0)

    yesterday = datetime.now(UTC) - timedelta(days=1)  # a report that waited in a queue
    await world.delivery.on_sent(sent_report(queued, 602, at=yesterday))
    assert totals(await counts(world.db, yesterday.date()))[:2] == (1, 1)
    assert totals(await counts(world.db))[:2] == (0, 0)


async def test_an_opt_out_rolled_back_with_its_transaction_adds_nothing(world: World) -> None:
    queued = await first_dm(world, 603)
    await world.delivery.on_sent(sent_report(queued, 603))
    with pytest.raises(RuntimeError, match="after the opt-out"):
        async with world.db.transaction() as session:
            conversation = await store.locked_conversation(session, queued.conversation_id)
            view = await store.campaign(session, conversation.campaign_id)
            await world.conversations.opt_out(session, conversation, view.policy, reason="test")
            raise RuntimeError("something failed after the opt-out")
    assert totals(await counts(world.db))[:3] == (1, 0, 0)
    [conversation] = await world.conversations_of(603)
    assert conversation.status == "active"


async def test_the_tokens_and_cost_of_each_written_message_count_on_its_day(world: World) -> None:
    world.conversations = Conversations(world.db, world.relay, PricedWriter())
    queued = await first_dm(world, 604)
    assert totals(await counts(world.db))[3:] == (340, 0.25)  # written: paid, sent or not
    await world.delivery.on_sent(sent_report(queued, 604))
    assert queued.account_id is not None
    await world.reply(604, queued.account_id, "Расскажите подробнее")  # the next turn is written
    assert totals(await counts(world.db)) == (1, 1, 0, 680, 0.5)


def _rerun_0011(connection: Connection, url: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection
    command.downgrade(config, "0010")
    command.upgrade(config, "0011")


async def _all_counts(db: Database) -> list[tuple[object, ...]]:
    c = CampaignDailyCount
    columns = (c.campaign_id, c.day, c.template_version, c.first_dms, c.replies, c.opt_outs)
    async with db.session() as session:
        rows = await session.execute(
            select(*columns, c.prompt_tokens, c.completion_tokens, c.cost).order_by(*columns[:3])
        )
        return [(*row[:8], round(row[8], 6)) for row in rows]


async def test_the_migration_fills_the_counts_the_manager_keeps_and_a_direct_count_agrees(
    world: World,
) -> None:
    world.conversations = Conversations(world.db, world.relay, PricedWriter())
    week_ago = datetime.now(UTC) - timedelta(days=7)
    for user, answers in ((611, ["Да"]), (612, []), (613, ["Интересно", "стоп"])):
        queued = await first_dm(world, user)
        await world.delivery.on_sent(sent_report(queued, user, at=week_ago))
        assert queued.account_id is not None
        for text in answers:
            await world.reply(user, queued.account_id, text)
    await first_dm(world, 614)  # written and queued, never reported sent
    kept = await _all_counts(world.db)

    async with world.db.engine.begin() as connection:  # the table as migration 0011 fills it
        await connection.run_sync(_rerun_0011, world.db.url)
    assert await _all_counts(world.db) == kept

    m = ConversationMessage
    async with world.db.session() as session:  # and what the dashboard counted from the rows
        first_dms = await session.scalar(
            select(func.count()).where(m.kind == "first", m.status == "sent")
        )
        answered = await session.scalar(
            select(func.count(m.conversation_id.distinct())).where(m.direction == "in")
        )
        opted = await session.scalar(select(func.count()).where(Conversation.status == "opted_out"))
        tokens = await session.scalar(select(func.sum(m.prompt_tokens + m.completion_tokens)))
    assert (first_dms, answered, opted, tokens) == (3, 2, 1, 340 * 6)
    assert sum(int(str(row[3])) for row in kept) == 3
    assert sum(int(str(row[4])) for row in kept) == 2
    assert sum(int(str(row[5])) for row in kept) == 1
    assert sum(int(str(row[6])) + int(str(row[7])) for row in kept) == 340 * 6
