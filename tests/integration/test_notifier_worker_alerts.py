"""A worker's crash loop reaches the operators in the sandbox Telegram: which account, the exit
code, OOM or not, the last lines of its log (escaped, cut from the start, markup intact) and a
button to the panel's System page; a redelivered event pages once."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from core.db.models import Account
from core.db.notifier_models import Alert
from core.events import Event, WorkerCrashed
from core.worker_commands import WorkerReleased
from tests.integration.notifier_world import OPERATOR, NotifierWorld

HOSTILE = "<b>not bold</b> & <i>" + "x" * 50
LOG = "\n".join([f"line {n:03d} of the worker" for n in range(200)] + [HOSTILE, "MemoryError"])


async def _ready(world: NotifierWorld) -> int:
    await world.start_notifier()
    await world.link("alice", "operator", OPERATOR, "Alice")
    async with world.platform.db.transaction() as session:
        account = Account(name="parser-7", role="parser", status="active", session_secret="x")
        session.add(account)
        await session.flush()
        return account.id


def _crash(account_id: int) -> WorkerCrashed:
    return WorkerCrashed(
        account_id=account_id,
        exit_code=137,
        oom_killed=True,
        restarts=5,
        quarantined=True,
        log_tail=LOG,
    )


async def test_a_crash_loop_alert_names_the_account_exit_code_oom_and_its_last_log_lines(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    account = await _ready(world)

    await world.publish(_crash(account))

    message = await world.message_with(OPERATOR, "parser-7 is quarantined after 5 crashes")
    text = message["text"]
    assert "exit 137" in text and "killed for memory (OOM)" in text
    assert "MemoryError" in text and HOSTILE in text  # shown as text, never as markup
    assert "line 199 of the worker" in text and "line 000 of the worker" not in text
    assert len(text) < 4096
    buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
    assert {"text": "Open in panel", "url": "http://panel.example/system"} in buttons


async def test_a_redelivered_crash_event_pages_once(notifier_product: NotifierWorld) -> None:
    world = notifier_product
    account = await _ready(world)
    event = Event.of(_crash(account))

    await world.platform.bus.publish(event)
    await world.message_with(OPERATOR, "exit 137")
    await world.platform.bus.publish(event)  # the same event again, as after a lost ack
    await asyncio.sleep(1.5)

    pages = [m for m in await world.bot_messages(OPERATOR) if "exit 137" in m["text"]]
    assert len(pages) == 1
    async with world.platform.db.session() as session:
        alerts = list(await session.scalars(select(Alert).where(Alert.kind == "worker.crashed")))
    assert [a.repeats for a in alerts] == [0]  # not even counted as a repeat


async def test_a_release_from_the_panel_marks_the_alert_handled_by_whom(
    notifier_product: NotifierWorld,
) -> None:
    world = notifier_product
    account = await _ready(world)
    await world.publish(_crash(account))
    first = await world.message_with(OPERATOR, "exit 137", buttons=True)

    await world.publish(WorkerReleased(account_id=account, by="alina"))

    edited = await world.message_with(OPERATOR, "Released from quarantine by alina")
    assert edited["message_id"] == first["message_id"]  # the same message, edited in place
    buttons = [b["text"] for row in edited["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["Open in panel"]  # nothing left to mute
