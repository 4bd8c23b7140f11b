"""How alerts travel: within Telegram's limits, grouped, deduplicated, silenced, inhibited, quiet
at night, safe with any text, and delayed (never dropped) by the Bot API's refusals."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from core.db.notifier_models import AlertDelivery, AlertRecipient
from core.events import AccountBanned, AlertRaised, LeadFound, WorkerCrashed
from tests.conftest import eventually
from tests.integration.notifier_world import OPERATOR, NotifierWorld

HOSTILE = 'Price < 100 & "discount" > 0 <b>bold?</b> 🚀🔥 ' + "&amp; " * 3


def _raised(title: str, fingerprint: str, **extra: Any) -> AlertRaised:
    return AlertRaised(
        source="api",
        sender_user_id=1,
        sender_login="grafana",
        title=title,
        fingerprint=fingerprint,
        **extra,
    )


def _lead(n: int, campaign: int = 1) -> LeadFound:
    return LeadFound(
        lead_id=n,
        campaign_id=campaign,
        telegram_user_id=900_000 + n,
        chat_id=-100,
        message_id=n,
        text=f"lead {n}",
        keywords=["developer"],
        is_new=True,
    )


async def _ready(world: NotifierWorld) -> None:
    await world.start_notifier()
    await world.link("alice", "operator", OPERATOR, "Alice")


async def test_a_429_from_the_bot_api_delays_the_alert_then_delivers_it_once(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await _ready(world)
    fault = {"kind": "retry_after", "method": "sendMessage", "count": 2, "seconds": 1}
    await world.call(f"/_sandbox/bots/{world.bot_id}/faults", fault)
    started = asyncio.get_running_loop().time()

    await world.publish(_raised("Disk almost full", "disk"))

    await world.message_with(OPERATOR, "Disk almost full")
    assert asyncio.get_running_loop().time() - started >= 2.0  # waited out twice
    info = await world.call(f"/_sandbox/bots/{world.bot_id}")
    assert (
        info["refused_by_method"].get("sendmessage", 0)
        + info["refused_by_method"].get("sendMessage", 0)
        == 2
    )
    await asyncio.sleep(1)
    copies = [m for m in await world.bot_messages(OPERATOR) if "Disk almost full" in m["text"]]
    assert len(copies) == 1


async def test_five_hundred_leads_become_a_few_edited_messages_and_a_group_is_never_flooded(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await _ready(world)
    group = (await world.call("/_sandbox/chats", {"ref": "operators_room", "title": "Ops"}))["chat"]
    await world.link("root", "admin", OPERATOR + 1, "Root")
    await world.write(OPERATOR + 1, "/subscribe", chat=group["chat_id"])
    await world.message_with(group["chat_id"], "now gets alerts")

    for n in range(1, 501):
        await world.publish(_lead(n, campaign=1 + n % 2))

    for chat in (OPERATOR, group["chat_id"]):
        header = await world.message_with(chat, "500 new leads")
        assert "lead 500" in header["text"]  # the newest are listed
        alerts = [m for m in await world.bot_messages(chat) if "new lead" in m["text"]]
        assert len(alerts) <= 3, [m["text"][:40] for m in alerts]
    info = await world.call(f"/_sandbox/bots/{world.bot_id}")
    assert info["refused"] == 0, "we kept within Telegram's limits: no 429 at all"


async def test_hostile_and_huge_text_arrives_escaped_and_cut_without_breaking_markup(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await _ready(world)

    await world.publish(_raised(HOSTILE, "hostile", text=HOSTILE * 100, severity="critical"))

    message = await world.message_with(OPERATOR, 'Price < 100 & "discount" > 0 <b>bold?</b> 🚀🔥')
    assert len(message["text"]) <= 4096
    assert "…\n\nfrom grafana (api)" in message["text"]  # the long text cut, the rest intact
    assert any(e["type"] == "bold" for e in message.get("entities", []))


async def test_a_repeat_is_counted_on_the_first_message_and_a_resolved_alert_edits_it(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await _ready(world)

    await world.publish(_raised("Queue backlog", "backlog"))
    await world.message_with(OPERATOR, "Queue backlog")
    await world.publish(_raised("Queue backlog", "backlog"))
    await world.publish(_raised("Queue backlog", "backlog", status="resolved"))

    settled = await world.message_with(OPERATOR, "Resolved at")
    assert "×2" in settled["text"]  # the repeat is counted on the one message
    assert "reply_markup" not in settled
    assert len([m for m in await world.bot_messages(OPERATOR) if "backlog" in m["text"]]) == 1


async def test_mute_for_an_hour_keeps_that_alert_quiet_but_not_others(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await _ready(world)
    await world.publish(_raised("Replication lag", "lag"))
    first = await world.message_with(OPERATOR, "Replication lag")

    answer = await world.press(OPERATOR, first, "Mute 1 h")
    assert answer["text"].startswith("Muted until")
    await world.publish(_raised("Replication lag", "lag", status="resolved"))
    await world.message_with(OPERATOR, "Resolved at")
    await world.publish(_raised("Replication lag", "lag"))
    await world.publish(_raised("Certificate expires", "cert"))

    await world.message_with(OPERATOR, "Certificate expires")
    texts = [m["text"] for m in await world.bot_messages(OPERATOR)]
    assert sum("Replication lag" in t for t in texts) == 1
    async with world.platform.db.session() as session:
        statuses = list(await session.scalars(select(AlertDelivery.status)))
    assert "silenced" in statuses


async def test_a_banned_account_mutes_the_crash_alerts_of_its_worker(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await _ready(world)

    await world.publish(AccountBanned(account_id=7, reason="USER_DEACTIVATED_BAN"))
    await world.message_with(OPERATOR, "is banned")
    await world.publish(WorkerCrashed(account_id=7, exit_code=1))
    await world.publish(WorkerCrashed(account_id=8, exit_code=137, oom_killed=True))

    await world.message_with(OPERATOR, "exit 137")
    texts = " ".join(m["text"] for m in await world.bot_messages(OPERATOR))
    assert "exit 1)" not in texts


async def test_quiet_hours_hold_warnings_but_let_critical_alerts_through(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await _ready(world)
    now = datetime.now(UTC)
    quiet = (
        (now - timedelta(hours=1)).strftime("%H:%M"),
        (now + timedelta(hours=1)).strftime("%H:%M"),
    )
    async with world.platform.db.transaction() as session:
        await session.execute(
            update(AlertRecipient).values(quiet_from=quiet[0], quiet_to=quiet[1], timezone="UTC")
        )

    await world.publish(_raised("Backup is slow", "backup", severity="warning"))
    await world.publish(_raised("Database is down", "db", severity="critical"))

    await world.message_with(OPERATOR, "Database is down")
    await asyncio.sleep(1)
    texts = " ".join(m["text"] for m in await world.bot_messages(OPERATOR))
    assert "Backup is slow" not in texts  # held until the quiet hours end


async def test_an_operator_who_blocks_the_bot_stops_getting_alerts_and_nothing_else_breaks(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await _ready(world)
    await world.link("bob", "operator", OPERATOR + 3, "Bob")
    await world.call(f"/_sandbox/bots/{world.bot_id}/block", {"user_id": OPERATOR + 3})

    await world.publish(_raised("Payments are failing", "payments", severity="critical"))

    await world.message_with(OPERATOR, "Payments are failing")

    async def stopped() -> str | None:
        async with world.platform.db.session() as session:
            row = await session.scalar(
                select(AlertRecipient).where(AlertRecipient.chat_id == OPERATOR + 3)
            )
            return row.stopped_reason if row is not None and not row.active else None

    assert "blocked" in await eventually(stopped, what="Bob's chat to be stopped")
