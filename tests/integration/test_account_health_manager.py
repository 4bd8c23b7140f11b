"""The manager obeys account health (SQLite and PostgreSQL): no new first DM for an account under
a PeerFlood limit, its scheduled first DMs moved when one comes, and an account's own daily cap
holding its new DMs below the campaign's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from admin.workspace.apply import apply_workspace, read_workspace
from core.db import Database
from core.db.models import Account, ConversationMessage
from core.events import SendFailed
from core.security import SecretBox
from tests.integration.conftest import World, workspace


@pytest.fixture
async def world(database: Database, secret_box: SecretBox, tmp_path: Path) -> World:
    """The manager's parts on the integration workspace: campaign 1 writes from manager-1 and
    manager-2, campaign 2 from manager-2 only; no pacing gaps, 1000 new DMs a day."""
    path = tmp_path / "ws.yaml"
    path.write_text(workspace(), encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    return World(database)


async def _set_account(world: World, account: str | int, **values: object) -> int:
    which = Account.name == account if isinstance(account, str) else Account.id == account
    async with world.db.transaction() as session:
        account_id = await session.scalar(
            update(Account).where(which).values(**values).returning(Account.id)
        )
    assert account_id is not None
    return int(account_id)


async def _first_dm(world: World, user: int) -> ConversationMessage:
    [message] = await world.outbound(user)
    return message


async def test_the_manager_gives_no_new_first_dm_to_an_account_under_a_peer_flood_limit(
    world: World,
) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    limited = await _set_account(world, "manager-1", peer_flood_until=later)
    for user in range(801, 805):
        await world.conversations.on_lead(await world.lead(user=user))

    accounts = {(await _first_dm(world, user)).account_id for user in range(801, 805)}
    assert limited not in accounts and len(accounts) == 1

    await _set_account(world, "manager-1", peer_flood_until=datetime.now(UTC) - timedelta(1))
    await world.conversations.on_lead(await world.lead(user=805))
    assert (await _first_dm(world, 805)).account_id == limited, "the least busy once it lifts"


async def test_a_peer_flood_moves_the_accounts_first_dms_to_the_other_account(
    world: World,
) -> None:
    for user in (811, 812):  # one each: the least busy account gets the next lead
        await world.conversations.on_lead(await world.lead(user=user))
    await world.dispatcher.dispatch_due()
    for user in (813, 814):  # scheduled, not yet handed to a worker
        await world.conversations.on_lead(await world.lead(user=user))
    first = {user: await _first_dm(world, user) for user in (811, 812, 813, 814)}
    refused = next(m for m in (first[811], first[812]) if m.status == "queued")
    limited = refused.account_id
    assert limited is not None and refused.idempotency_key is not None
    mine = [u for u, m in first.items() if m.account_id == limited]
    assert len(mine) == 2  # one queued, one scheduled

    # What the worker wrote in the transaction of its report: the limit, then the report.
    until = datetime.now(UTC) + timedelta(hours=24)
    await _set_account(world, limited, peer_flood_until=until)
    await world.delivery.on_send_failed(
        SendFailed(
            idempotency_key=refused.idempotency_key,
            account_id=limited,
            conversation_id=refused.conversation_id,
            message_id=refused.id,
            peer_user_id=mine[0],
            reason="peer_flood",
        )
    )

    for user in mine:
        moved = await _first_dm(world, user)
        assert moved.account_id not in (None, limited)
        assert moved.status == "scheduled"
        [conversation] = await world.conversations_of(user)
        assert conversation.account_id == moved.account_id


async def test_an_accounts_own_daily_cap_holds_its_new_dms_below_the_campaigns(
    world: World,
) -> None:
    await _set_account(world, "manager-2", daily_cap=2)  # campaign 2 allows 1000 a day
    started = datetime.now(UTC)
    for user in range(821, 824):
        await world.conversations.on_lead(await world.lead(user=user, campaign=2))

    times = sorted([_aware((await _first_dm(world, user)).send_after) for user in range(821, 824)])
    tomorrow = datetime.combine(started.date() + timedelta(days=1), datetime.min.time(), UTC)
    assert all(at < started + timedelta(minutes=1) for at in times[:2])
    assert times[2] >= tomorrow, "the third waits for the next day"


async def test_an_account_with_a_daily_cap_of_zero_opens_no_dialogs(world: World) -> None:
    await _set_account(world, "manager-2", daily_cap=0)
    await world.conversations.on_lead(await world.lead(user=831, campaign=2))

    [conversation] = await world.conversations_of(831)
    assert conversation.status == "waiting" and conversation.account_id is None
    assert await world.outbound(831) == []


def _aware(moment: datetime | None) -> datetime:
    assert moment is not None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
