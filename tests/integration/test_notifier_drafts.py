"""Drafts waiting for approval reach operators in Telegram, and their buttons and replies run the
same operator commands as the panel (real aiogram, sandbox Bot API, PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import eventually
from tests.integration.notifier_world import OPERATOR, NotifierWorld

LEAD = 700_201
HOSTILE = 'Need a developer <b>now</b> & fast, "urgent" 🚀 <script>x</script>'


async def test_a_pending_draft_reaches_the_operator_and_approve_sends_exactly_one_dm(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await world.boot(approval=True)
    await world.link("alice", "operator", OPERATOR, "Alice")
    await world.post(LEAD, HOSTILE)

    alert = await world.message_with(OPERATOR, "Draft to approve", buttons=True)
    assert HOSTILE.replace("  ", " ") in alert["text"]  # the lead's words, shown as they wrote them
    labels = [b["text"] for row in alert["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["Approve", "Reject", "Take over", "Open in panel"]

    answer = await world.press(OPERATOR, alert, "Approve")
    assert answer["text"] == "Done."
    [dm] = await eventually(lambda: world.dms_to(LEAD), seconds=20, what="the DM to the lead")

    async def redrawn() -> dict[str, Any] | None:
        [now] = [
            m for m in await world.bot_messages(OPERATOR) if m["message_id"] == alert["message_id"]
        ]
        return now if "Approved by alice" in now["text"] else None

    edited = await eventually(redrawn, what="the alert to say who approved it")
    assert "reply_markup" not in edited
    await asyncio.sleep(1)
    assert len(await world.dms_to(LEAD)) == 1
    assert dm["text"]


async def test_two_operators_pressing_approve_at_once_send_one_dm_and_the_second_hears_who_won(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await world.boot(approval=True)
    await world.link("alice", "operator", OPERATOR, "Alice")
    await world.link("bob", "operator", OPERATOR + 1, "Bob")
    await world.post(LEAD, "Looking for a developer for a small SaaS")
    alices, bobs = await asyncio.gather(
        world.message_with(OPERATOR, "Draft to approve", buttons=True),
        world.message_with(OPERATOR + 1, "Draft to approve", buttons=True),
    )

    answers = await asyncio.gather(
        world.press(OPERATOR, alices, "Approve"), world.press(OPERATOR + 1, bobs, "Approve")
    )

    said = sorted(a["text"] for a in answers)
    assert said[0] == "Done.", said
    assert "already" in said[1] and ("alice" in said[1] or "bob" in said[1]), said
    await eventually(lambda: world.dms_to(LEAD), seconds=20, what="the DM")
    await asyncio.sleep(1.5)
    assert len(await world.dms_to(LEAD)) == 1


async def test_replying_to_a_draft_sends_the_operators_text_instead(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await world.boot(approval=True)
    await world.link("alice", "operator", OPERATOR, "Alice")
    await world.post(LEAD, "Looking for a developer for a small SaaS")
    alert = await world.message_with(OPERATOR, "Draft to approve", buttons=True)

    mine = "Hi! We have built 30 SaaS products. Want to see three of them?"
    await world.write(OPERATOR, mine, reply_to=alert["message_id"])

    [dm] = await eventually(lambda: world.dms_to(LEAD), seconds=20, what="the edited DM")
    assert dm["text"] == mine
    await world.message_with(OPERATOR, "Your text is approved and will be sent")


async def test_a_viewer_pressing_approve_in_an_operators_group_is_refused_and_nothing_is_sent(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await world.boot(approval=True)
    group = (await world.call("/_sandbox/chats", {"ref": "operators_room", "title": "Operators"}))[
        "chat"
    ]
    await world.link("root", "admin", OPERATOR, "Root")
    await world.link("vera", "viewer", OPERATOR + 2, "Vera")
    await world.write(OPERATOR, "/subscribe", chat=group["chat_id"])
    await world.message_with(group["chat_id"], "This group now gets alerts")
    await world.post(LEAD, "Looking for a developer for a small SaaS")
    alert = await world.message_with(group["chat_id"], "Draft to approve", buttons=True)

    answer = await world.press(OPERATOR + 2, alert, "Approve", chat=group["chat_id"])

    assert answer["text"] == "Your role (viewer) cannot do this."
    assert answer["show_alert"] is True
    await asyncio.sleep(1.5)
    assert await world.dms_to(LEAD) == []
    [still] = [
        m
        for m in await world.bot_messages(group["chat_id"])
        if m["message_id"] == alert["message_id"]
    ]
    assert still.get("reply_markup"), "the draft still waits for someone who may approve it"


async def test_a_stranger_who_never_linked_gets_told_how_to_link(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await world.boot(approval=True)
    group = (await world.call("/_sandbox/chats", {"ref": "operators_room", "title": "Operators"}))[
        "chat"
    ]
    await world.link("root", "admin", OPERATOR, "Root")
    await world.write(OPERATOR, "/subscribe", chat=group["chat_id"])
    await world.message_with(group["chat_id"], "now gets alerts")
    await world.post(LEAD, "Looking for a developer for a small SaaS")
    alert = await world.message_with(group["chat_id"], "Draft to approve", buttons=True)

    await world.write(555_000, "/start not-a-code", name="Mallory")
    said = await world.message_with(555_000, "Not linked")
    assert "not a link code" in said["text"]

    answer = await world.press(555_000, alert, "Reject", chat=group["chat_id"])

    assert "Link your Telegram account first" in answer["text"]
    await asyncio.sleep(1)
    [still] = [
        m
        for m in await world.bot_messages(group["chat_id"])
        if m["message_id"] == alert["message_id"]
    ]
    assert still.get("reply_markup"), "nothing happened to the draft"
