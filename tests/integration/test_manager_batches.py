"""Leads and drafts that arrive together share transactions (SQLite and PostgreSQL); what a user
would notice stays the same as one at a time: one first message per person, the campaign's
accounts shared out, pacing gaps kept, and a bad lead failing alone."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from admin.workspace.apply import apply_workspace, read_workspace
from core.bus import PermanentError
from core.db import Database
from core.db.models import Account
from core.events import ConfigChanged, Event
from core.security import SecretBox
from manager.conversations import Conversations
from manager.handlers import ManagerHandlers
from manager.writers import TemplateWriter
from tests.integration.conftest import World, workspace

PACED = {
    "paced": ("min_gap_seconds: 0, max_gap_seconds: 0", "min_gap_seconds: 30, max_gap_seconds: 30"),
    "two a day": ("new_dms_per_day: 1000", "new_dms_per_day: 2, warmup_start_dms: 2"),
}


@pytest.fixture
async def world(
    database: Database, secret_box: SecretBox, tmp_path: Path, request: pytest.FixtureRequest
) -> World:
    """As the manager runs: due messages are queued in the transaction that stores them."""
    text = workspace()
    if (pacing := getattr(request, "param", None)) is not None:
        text = text.replace(*PACED[pacing])
    path = tmp_path / "ws.yaml"
    path.write_text(text, encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    world = World(database)
    world.conversations = Conversations(
        database, world.relay, TemplateWriter(), queue=world.dispatcher.queue
    )
    return world


async def test_leads_that_arrive_together_each_get_exactly_one_send_command(world: World) -> None:
    users = range(701, 721)
    found = [await world.lead(user=user) for user in users]

    await asyncio.gather(*(world.conversations.on_lead(f) for f in found))
    await asyncio.gather(*(world.conversations.on_lead(f) for f in found))  # all redelivered

    commands = [command for _, command in await world.events("command.send")]
    assert sorted(c["peer_user_id"] for c in commands) == list(users)
    assert len({c["idempotency_key"] for c in commands}) == len(users)
    assert await world.dispatcher.dispatch_due() == 0, "everything was queued as it was decided"


async def test_one_person_found_by_two_campaigns_at_once_gets_one_first_message(
    world: World,
) -> None:
    found = [await world.lead(user=730, campaign=1), await world.lead(user=730, campaign=2)]

    await asyncio.gather(*(world.conversations.on_lead(f) for f in found))

    first, second = await world.conversations_of(730)
    assert first.status == "active"
    assert second.status == "skipped" and second.reason is not None
    assert "already contacted by campaign 1" in second.reason
    assert len(await world.events("command.send")) == 1


async def test_a_burst_of_leads_is_shared_out_over_the_campaigns_manager_accounts(
    world: World,
) -> None:
    found = [await world.lead(user=user) for user in range(740, 750)]

    await asyncio.gather(*(world.conversations.on_lead(f) for f in found))

    per_account: dict[int, int] = defaultdict(int)
    for _, command in await world.events("command.send"):
        per_account[command["account_id"]] += 1
    assert sorted(per_account.values()) == [5, 5]


async def test_an_unknown_lead_in_a_burst_fails_alone(world: World) -> None:
    good = [await world.lead(user=user) for user in (751, 752)]
    bogus = good[0].model_copy(update={"lead_id": 99_999, "telegram_user_id": 753})

    results = await asyncio.gather(
        *(world.conversations.on_lead(f) for f in [good[0], bogus, good[1]]),
        return_exceptions=True,
    )

    assert results[0] is None and results[2] is None
    assert isinstance(results[1], PermanentError) and "lead 99999" in str(results[1])
    assert sorted(c["peer_user_id"] for _, c in await world.events("command.send")) == [751, 752]


@pytest.mark.parametrize("world", ["paced"], indirect=True)
async def test_drafts_stored_together_keep_each_accounts_gap(world: World) -> None:
    found = [await world.lead(user=user) for user in range(760, 766)]

    await asyncio.gather(*(world.conversations.on_lead(f) for f in found))

    times: dict[int, list[datetime]] = defaultdict(list)
    for user in range(760, 766):
        [message] = await world.outbound(user)
        assert message.account_id is not None and message.send_after is not None
        times[message.account_id].append(message.send_after)
    gaps = [
        later - earlier
        for moments in times.values()
        for earlier, later in itertools.pairwise(sorted(moments))
    ]
    assert len(times) == 2, "both accounts write"
    assert len(gaps) == 4 and all(gap >= timedelta(seconds=30) for gap in gaps), gaps


@pytest.mark.parametrize("world", ["two a day"], indirect=True)
async def test_a_burst_past_the_daily_cap_fills_the_next_days_in_turn(world: World) -> None:
    users = range(770, 775)
    found = [await world.lead(user=user, campaign=2) for user in users]  # one manager account

    await asyncio.gather(*(world.conversations.on_lead(f) for f in found))

    days: dict[date, int] = defaultdict(int)
    for user in users:
        [message] = await world.outbound(user)
        assert message.send_after is not None
        days[message.send_after.astimezone(UTC).date()] += 1
    today = datetime.now(UTC).date()
    assert days == {today: 2, today + timedelta(days=1): 2, today + timedelta(days=2): 1}
    assert len(await world.events("command.send")) == 2, "only today's go now"


async def test_a_lead_found_while_no_account_can_write_waits_and_is_written_to_later(
    world: World,
) -> None:
    async with world.db.transaction() as session:  # campaign 2's only manager account is down
        await session.execute(
            update(Account).where(Account.name == "manager-2").values(status="banned")
        )
    await world.conversations.on_lead(await world.lead(user=780, campaign=2))

    [waiting] = await world.conversations_of(780)
    assert waiting.status == "waiting" and waiting.account_id is None
    assert await world.outbound(780) == []
    assert await world.conversations.resume_waiting() == 0, "still no account to write from"

    async with world.db.transaction() as session:  # the admin brings an account back
        await session.execute(
            update(Account).where(Account.name == "manager-2").values(status="active")
        )
    handlers = ManagerHandlers(world.conversations, world.delivery, world.desk)
    await handlers.on_control(Event.of(ConfigChanged(reason="workspace applied")))
    for _ in range(100):
        [conversation] = await world.conversations_of(780)
        if conversation.status not in ("waiting", "drafting"):  # drafting: being written
            break
        await asyncio.sleep(0.05)
    assert conversation.status == "active" and conversation.account_id is not None
    assert await world.conversations.resume_waiting() == 0, "picked up once"
    [(_, command)] = await world.events("command.send")
    assert command["peer_user_id"] == 780
