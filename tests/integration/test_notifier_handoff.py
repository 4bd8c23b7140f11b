"""A conversation a lead wants a person for: the operator takes it over from Telegram, gets the
lead's messages there, answers by replying, and hands it back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from core.db.notifier_models import Alert, AlertDelivery
from tests.conftest import eventually
from tests.integration.notifier_world import OPERATOR, NotifierWorld

LEAD = 700_301


async def test_taking_over_forwards_the_leads_messages_and_replies_reach_the_lead(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await world.boot(approval=False)
    await world.link("alice", "operator", OPERATOR, "Alice")
    await world.post(LEAD, "Looking for a developer for a small SaaS", name="Ivan")
    [first] = await eventually(lambda: world.dms_to(LEAD), seconds=20, what="the first DM")
    account = first["from"]["user_id"]
    await world.call(
        "/_sandbox/dm", {"user_id": LEAD, "to": account, "text": "Can I talk to a human, please?"}
    )

    handoff = await world.message_with(OPERATOR, "needs a person")
    assert "Can I talk to a human" in handoff["text"]  # the dialogue so far
    answer = await world.press(OPERATOR, handoff, "Take over")
    assert answer["text"] == "Done."
    taken = await world.message_with(OPERATOR, "Taken over by alice")
    labels = [b["text"] for row in taken["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["Hand back"]

    await world.call("/_sandbox/dm", {"user_id": LEAD, "to": account, "text": "What does it cost?"})
    forwarded = await world.message_with(OPERATOR, "What does it cost?")
    priced = "About 4,000 EUR for the first version."
    await world.write(OPERATOR, priced, reply_to=forwarded["message_id"])
    refusal = await world.message_with(
        OPERATOR, "Not sent: your text fails the checks", buttons=False
    )
    assert "4,000 EUR" in refusal["text"]  # the same checks as a draft, named for the operator
    mine = "The price depends on the scope: can we call tomorrow?"
    await world.write(OPERATOR, mine, reply_to=forwarded["message_id"])
    dms = await eventually(
        lambda: _at_least(world, 2), seconds=20, what="the operator's answer to reach the lead"
    )
    assert dms[-1]["text"] == mine
    await world.call("/_sandbox/dm", {"user_id": LEAD, "to": account, "text": "Tomorrow at 10"})
    await world.message_with(OPERATOR, "Tomorrow at 10")  # forwarded too, with its buttons

    answer = await world.press(OPERATOR, forwarded, "Hand back")
    assert answer["text"] == "Done."

    async def buttons_gone() -> bool:
        about = [
            m
            for m in await world.bot_messages(OPERATOR)
            if "needs a person" in m["text"] or "Ivan wrote" in m["text"]
        ]
        return len(about) == 3 and all(not m.get("reply_markup") for m in about)

    await eventually(buttons_gone, what="every message about it to lose its buttons")


async def _at_least(world: NotifierWorld, count: int) -> list[dict[str, Any]] | None:
    dms = await world.dms_to(LEAD)
    return dms if len(dms) >= count else None


async def test_a_handoff_with_nobody_linked_is_logged_without_deliveries(
    notifier_product: NotifierWorld,
) -> None:
    """Nobody to tell is not an error: the alert is in the log, delivered to nobody."""
    world = notifier_product
    await world.boot(approval=False)
    await world.post(LEAD, "Looking for a developer for a small SaaS, any ideas?", name="Ivan")
    [first] = await eventually(lambda: world.dms_to(LEAD), seconds=20, what="the first DM")
    account = first["from"]["user_id"]
    await world.call("/_sandbox/dm", {"user_id": LEAD, "to": account, "text": "a human please"})

    async def logged() -> list[Alert] | None:
        async with world.platform.db.session() as session:
            rows = await session.scalars(select(Alert).where(Alert.kind == "conversation.handoff"))
            return list(rows) or None

    [alert] = await eventually(logged, what="the hand-off in the alert log")
    assert alert.state == "firing" and "Ivan" in alert.title
    async with world.platform.db.session() as session:
        deliveries = await session.scalar(select(func.count()).select_from(AlertDelivery))
    assert deliveries == 0
