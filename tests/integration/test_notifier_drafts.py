"""Drafts waiting for approval reach operators in Telegram, and their buttons and replies run the
same operator commands as the panel (real aiogram, sandbox Bot API, PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.integration.notifier_world import OPERATOR, NotifierWorld, eventually

LEAD = 700_201
HOSTILE = 'Need a developer <b>now</b> & fast, "urgent" 🚀 <script>x</script>'


async def _draft_alert(world: NotifierWorld, chat: int) -> dict[str, Any]:
    async def arrived() -> dict[str, Any] | None:
        for message in await world.bot_messages(chat):
            if "Draft to approve" in message["text"] and message.get("reply_markup"):
                return message
        return None

    return await eventually(arrived, seconds=30, what="the draft alert")


async def test_a_pending_draft_reaches_the_operator_and_approve_sends_exactly_one_dm(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    await world.boot(approval=True)
    await world.link("alice", "operator", OPERATOR, "Alice")
    await world.post(LEAD, HOSTILE)

    alert = await _draft_alert(world, OPERATOR)
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
