"""Lead alerts in Telegram carry the second stage's verdict, and their "✅ Lead" / "🚫 Not a lead"
buttons send the operator's mark to the parser as them (real aiogram, sandbox Bot API,
PostgreSQL); a viewer is refused, an unsure lead asks, a "maybe" pages nobody."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from core.access import Actor
from core.db.intent_models import IntentExample
from core.db.models import Lead
from core.events import LeadFound
from core.intent import IntentVerdict
from core.lead_commands import LeadCommand, send_lead_command
from tests.conftest import eventually
from tests.integration.notifier_world import OPERATOR, NotifierWorld

REASON = "«бюджет» +2.3, «ищу» +1.4"


def _found(lead_id: int, intent: IntentVerdict | None, score: float = 0.82) -> LeadFound:
    return LeadFound(
        lead_id=lead_id,
        campaign_id=1,
        telegram_user_id=810_000 + lead_id,
        chat_id=-100,
        message_id=lead_id,
        text=f"Ищу разработчика на магазин, бюджет есть ({lead_id})",
        keywords=["разработчик"],
        is_new=True,
        intent=intent,
        score=score,
        reason=REASON,
    )


async def test_a_new_lead_shows_score_and_reason_and_a_mark_without_a_parser_says_so(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await world.start_notifier()
    await world.link("alice", "operator", OPERATOR, "Alice")

    await world.publish(_found(1, "lead"))

    alert = await world.message_with(OPERATOR, "New lead", buttons=True)
    assert f"Intent: 0.82 · {REASON}" in alert["text"]
    labels = [b["text"] for row in alert["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["✅ Lead", "🚫 Not a lead", "Open in panel"]
    answer = await world.press(OPERATOR, alert, "🚫 Not a lead")
    assert answer["text"] == "Not saved: the parser is not answering. Try again in a minute."
    assert answer["show_alert"] is True
    [still] = [
        m for m in await world.bot_messages(OPERATOR) if m["message_id"] == alert["message_id"]
    ]
    assert still.get("reply_markup"), "nothing was marked: the buttons stay"


async def test_a_viewer_pressing_not_a_lead_is_refused_politely(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await world.start_notifier()
    await world.link("vera", "viewer", OPERATOR, "Vera")
    await world.publish(_found(2, "lead"))
    alert = await world.message_with(OPERATOR, "New lead", buttons=True)

    answer = await world.press(OPERATOR, alert, "🚫 Not a lead")

    assert answer["text"] == "Your role (viewer) cannot do this."
    assert answer["show_alert"] is True


async def test_an_unsure_lead_asks_and_a_maybe_pages_nobody(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await world.start_notifier()
    await world.link("alice", "operator", OPERATOR, "Alice")

    await world.publish(_found(3, "maybe", 0.2))
    await world.publish(_found(4, "ask", 0.41))

    question = await world.message_with(OPERATOR, "Is this a lead?", buttons=True)
    assert "Ищу разработчика на магазин, бюджет есть (4)" in question["text"]
    assert "Nobody writes to them until you say it is a lead." in question["text"]
    labels = [b["text"] for row in question["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["✅ Lead", "🚫 Not a lead", "Open in panel"]
    await asyncio.sleep(1.5)
    said = " ".join(m["text"] for m in await world.bot_messages(OPERATOR))
    assert "(3)" not in said, "a maybe is not worth a page"


# ---- with the parser serving the marks (the whole product) -----------------------------------

BUYER = "Ищу разработчика на интернет-магазин, бюджет 200 тысяч, кто возьмётся?"
SELLER = "Я разработчик, делаю сайты под ключ, пишите в лс"


async def _redrawn(world: NotifierWorld, message: dict[str, Any], words: str) -> dict[str, Any]:
    async def now() -> dict[str, Any] | None:
        for m in await world.bot_messages(OPERATOR):
            if m["message_id"] == message["message_id"] and words in m["text"]:
                return dict(m)
        return None

    return await eventually(now, what=f"the alert to say {words!r}")


async def _examples(world: NotifierWorld) -> list[tuple[bool, str]]:
    async with world.platform.db.session() as session:
        rows = await session.execute(select(IntentExample.label, IntentExample.actor))
        return [(label, actor) for label, actor in rows]


async def test_not_a_lead_pressed_in_telegram_teaches_the_campaign_as_the_operator(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await world.boot(approval=True)
    await world.link("alice", "operator", OPERATOR, "Alice")
    await world.post(700_301, BUYER)
    alert = await world.message_with(OPERATOR, "New lead", buttons=True)
    assert "Intent: " in alert["text"] and "«бюджет»" in alert["text"]

    answer = await world.press(OPERATOR, alert, "🚫 Not a lead")

    assert answer["text"] == "Marked not a lead: the campaign learns from it."
    edited = await _redrawn(world, alert, "Marked not a lead by alice")
    labels = [b["text"] for row in edited["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["Open in panel"]
    assert await _examples(world) == [(False, "alice")]


async def test_an_unsure_lead_asked_in_telegram_and_answered_lead_gets_exactly_one_dm(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await world.boot(approval=False, below="ask")
    await world.link("alice", "operator", OPERATOR, "Alice")
    await world.post(700_302, SELLER)
    question = await world.message_with(OPERATOR, "Is this a lead?", buttons=True)
    await asyncio.sleep(1)
    assert await world.dms_to(700_302) == []  # nobody writes while the question waits

    answer = await world.press(OPERATOR, question, "✅ Lead")

    assert answer["text"] == "Marked a lead: the manager will write to them."
    await _redrawn(world, question, "Marked a lead by alice")
    await eventually(lambda: world.dms_to(700_302), seconds=20, what="the DM after the answer")
    await asyncio.sleep(1.5)
    assert len(await world.dms_to(700_302)) == 1
    assert await _examples(world) == [(True, "alice")]


async def test_a_question_answered_in_the_panel_is_answered_in_telegram_too(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await world.boot(approval=False, below="ask")
    await world.link("alice", "operator", OPERATOR, "Alice")
    await world.post(700_303, SELLER)
    question = await world.message_with(OPERATOR, "Is this a lead?", buttons=True)
    async with world.platform.db.session() as session:
        lead_id = await session.scalar(select(Lead.id).where(Lead.telegram_user_id == 700_303))
    assert lead_id is not None
    bob = Actor(user_id=None, login="bob", role="operator", channel="panel")

    result = await send_lead_command(
        world.platform.bus, LeadCommand(lead_id=lead_id, mark="not_lead", actor=bob)
    )

    assert result.outcome == "done"
    edited = await _redrawn(world, question, "Marked not a lead by bob")
    labels = [b["text"] for row in edited["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["Open in panel"], "nobody is asked about a lead already answered"
    assert await world.dms_to(700_303) == []
