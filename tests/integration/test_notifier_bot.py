"""The bot itself: webhook mode, /settings changing what a chat gets, and new leads as a digest."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select, update

from core.db.models import OutboxMessage
from core.db.notifier_models import Alert, AlertMessage, AlertRecipient, TelegramLink
from core.events import AccountBanned, LeadFound, TelegramUnlink
from notifier.alert_actions import AlertActions
from notifier.buttons import APPROVE, AlertPress
from notifier.housekeeping import Housekeeping
from tests.conftest import eventually, free_port
from tests.integration.notifier_world import OPERATOR, NotifierWorld


async def _recipient(world: NotifierWorld, chat: int) -> AlertRecipient:
    async with world.platform.db.session() as session:
        row = await session.scalar(select(AlertRecipient).where(AlertRecipient.chat_id == chat))
        assert row is not None
        return row


async def test_in_webhook_mode_telegram_calls_the_bot_and_linking_works(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    port = free_port()
    world.platform.settings = world.platform.settings.model_copy(
        update={
            "notifier_webhook_url": f"http://127.0.0.1:{port}/telegram/hook",
            "notifier_webhook_secret": SecretStr("webhook-secret-123"),
            "notifier_webhook_port": port,
        }
    )
    await world.start_notifier()

    async def hooked() -> bool:
        info = await world.call(f"/bot{await _token(world)}/getWebhookInfo")
        return bool(info["result"].get("url"))

    await eventually(hooked, what="the notifier to set its webhook")
    await world.link("alice", "operator", OPERATOR, "Alice")


async def _token(world: NotifierWorld) -> str:
    token = world.platform.settings.notifier_bot_token
    assert token is not None
    return token.get_secret_value()


async def test_settings_buttons_change_what_the_chat_gets(notifier_product: NotifierWorld) -> None:
    world = notifier_product
    await world.start_notifier()
    await world.link("alice", "operator", OPERATOR, "Alice")

    await world.write(OPERATOR, "/settings")
    page = await world.message_with(OPERATOR, "Alerts in this chat")
    await world.press(OPERATOR, page, "✅ New leads")
    page = await world.message_with(OPERATOR, "Alerts in this chat")
    await world.press(OPERATOR, page, "Quiet hours: off")
    page = await world.message_with(OPERATOR, "Alerts in this chat")
    await world.press(OPERATOR, page, "Language: English")

    recipient = await _recipient(world, OPERATOR)
    assert "leads" not in recipient.kinds and "drafts" in recipient.kinds
    assert (recipient.quiet_from, recipient.quiet_to) == ("22:00", "08:00")
    assert recipient.language == "ru"
    await world.publish(_lead(1))
    await asyncio.sleep(1.5)
    assert not any("new lead" in m["text"] for m in await world.bot_messages(OPERATOR))


def _lead(n: int) -> LeadFound:
    return LeadFound(
        lead_id=n,
        campaign_id=1,
        telegram_user_id=800_000 + n,
        chat_id=-100,
        message_id=n,
        text=f"need a site {n}",
        keywords=["site"],
        is_new=True,
    )


async def test_new_leads_as_a_digest_wait_for_the_period_then_come_in_one_message(
    notifier_product: NotifierWorld, tmp_path: Path
) -> None:
    world = notifier_product
    await world.start_notifier()
    await world.link("alice", "operator", OPERATOR, "Alice")
    async with world.platform.db.transaction() as session:
        await session.execute(update(AlertRecipient).values(new_leads="digest", digest_minutes=15))

    for n in range(1, 4):
        await world.publish(_lead(n))
    await asyncio.sleep(1.5)
    assert not any("new lead" in m["text"] for m in await world.bot_messages(OPERATOR))
    async with world.platform.db.transaction() as session:
        [due] = list(await session.scalars(select(AlertMessage.due_at)))
        assert due > datetime.now(UTC) + timedelta(minutes=14)  # a quarter of an hour away
        await session.execute(update(AlertMessage).values(due_at=datetime.now(UTC)))  # time flies
    assert world.notifier is not None
    world.notifier.courier.poke()

    digest = await world.message_with(OPERATOR, "3 new leads")
    assert "need a site 3" in digest["text"]


async def test_dead_letters_piling_up_page_once_and_the_count_follows_them(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await world.start_notifier()
    await world.link("alice", "operator", OPERATOR, "Alice")
    assert world.notifier is not None
    checks = Housekeeping(
        world.platform.db, world.notifier.intake, wake=world.notifier.courier.poke
    )

    await _dead(world, 10)
    await checks.watch_dead_letters()
    await world.message_with(OPERATOR, "10 messages are in dead letters")
    await _dead(world, 2)
    await checks.watch_dead_letters()

    await world.message_with(OPERATOR, "12 messages are in dead letters")
    assert sum("dead letters" in m["text"] for m in await world.bot_messages(OPERATOR)) == 1


async def _dead(world: NotifierWorld, count: int) -> None:
    now = datetime.now(UTC)
    async with world.platform.db.transaction() as session:
        session.add_all(
            OutboxMessage(
                event_id=str(uuid.uuid4()),
                routing_key="x.y",
                body="{}",
                attempts=5,
                dead_at=now,
                last_error="refused",
            )
            for _ in range(count)
        )


async def test_the_alert_log_forgets_what_is_over_after_its_retention_but_not_a_firing_ban(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await world.start_notifier()
    await world.link("alice", "operator", OPERATOR, "Alice")
    await world.publish(_lead(1))
    await world.publish(AccountBanned(account_id=3, reason="banned"))
    await world.message_with(OPERATOR, "is banned")
    async with world.platform.db.transaction() as session:
        await session.execute(
            update(Alert).values(created_at=datetime.now(UTC) - timedelta(days=40))
        )
    assert world.notifier is not None
    checks = Housekeeping(
        world.platform.db, world.notifier.intake, wake=world.notifier.courier.poke
    )

    assert await checks.prune() == 1

    async with world.platform.db.session() as session:
        assert list(await session.scalars(select(Alert.kind))) == ["account.banned"]


async def test_a_forged_press_naming_another_alert_is_refused_and_changes_nothing(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await world.start_notifier()
    await world.link("alice", "operator", OPERATOR, "Alice")
    await world.publish(AccountBanned(account_id=3, reason="banned"))
    message = await world.message_with(OPERATOR, "is banned")
    actions = AlertActions(world.platform.db, world.platform.bus, wake=lambda: None)

    forged = AlertPress(act=APPROVE, alert=999_999)
    answer = await actions.press(
        forged, telegram_user_id=OPERATOR, chat_id=OPERATOR, message_id=message["message_id"]
    )

    assert answer.text == "This button is no longer valid." and answer.alert


async def test_an_unlink_from_the_panel_stops_the_chat_and_its_buttons(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await world.start_notifier()
    alice = await world.link("alice", "operator", OPERATOR, "Alice")

    await world.publish(TelegramUnlink(user_id=alice, by="owner"))

    async def stopped() -> bool:
        recipient = await _recipient(world, OPERATOR)
        return not recipient.active and recipient.stopped_reason == "unlinked"

    await eventually(stopped, what="the chat to stop taking alerts")
    async with world.platform.db.session() as session:
        assert await session.scalar(select(TelegramLink.id)) is None
