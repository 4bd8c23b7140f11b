"""Scripts mode end to end: the scripts service, a worker per scripts account and the sandbox as
their own processes on PostgreSQL and RabbitMQ, time compressed 50×. Scenes play in order with the
right accounts and pauses, follow what a member says, wait out a FloodWait, survive SIGKILLs
without repeating a line, and are refused in a chat that is not the operator's own."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.access import Actor, Role
from core.bus import Bus
from core.bus.factory import make_bus
from core.db import Database
from core.db.models import Chat
from core.db.scene_models import Scenario, ScenarioVersion, SceneRun, SceneRunEvent
from core.scene_commands import SceneCommand, SceneResult, send_scene_command
from tests.conftest import Stack, sandbox_call, wait_for
from tests.e2e.conftest import OTHER_CHAT, OWN_CHAT, boot_scripts_mode, chat_messages

ACTOR = Actor(user_id=None, login="e2e", role=Role.operator, channel="api")

WELCOME = """\
title: Launch welcome
roles: host, guest, expert
vars: product = CoolThing, link

host [id hello]: {Hi|Hello} everyone, welcome to {product}!
wait 20-40s
guest [reply hello]: Glad to be here. What does {product} do?
expert: It answers people who ask for what you sell. See {link}
host: Any questions?
listen 5m
  when keywords pricing
    expert [reply member]: Good question, {member}! Plans start at $10.
  when anything
    host [reply member]: Thanks, {member}!
  when silent
    guest: Quiet crowd today.
end
host: That's all, thank you!
"""

COUNTDOWN = "roles: host, guest\n\n" + "\n".join(
    f"{'host' if n % 2 else 'guest'}: Line number {n} of the countdown\nwait 20-30s"
    for n in range(1, 9)
)


@pytest.fixture
async def bus(stack: Stack) -> AsyncIterator[Bus]:
    bus = make_bus(stack.env["COOLTHING_BUS_URL"])
    await bus.start()
    try:
        yield bus
    finally:
        await bus.close()


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[Database]:
    db = Database(stack.env["COOLTHING_DATABASE_URL"])
    try:
        yield db
    finally:
        await db.close()


async def add_scenario(db: Database, name: str, source: str) -> int:
    """What the admin API stores for a saved scene (version 1)."""
    async with db.transaction() as session:
        scenario = Scenario(name=name, version=1, source=source, roles=[], cast={})
        session.add(scenario)
        await session.flush()
        session.add(ScenarioVersion(scenario_id=scenario.id, version=1, source=source))
        return scenario.id


async def chat_id(db: Database, ref: str) -> int:
    async with db.session() as session:
        found = await session.scalar(select(Chat.id).where(Chat.ref == ref))
    assert found is not None
    return found


async def start(bus: Bus, scenario: int, chat: int, **more: Any) -> SceneResult:
    command = SceneCommand(action="start", actor=ACTOR, scenario_id=scenario, chat_id=chat, **more)
    return await send_scene_command(bus, command)


async def run_row(db: Database, run_id: int) -> SceneRun:
    async with db.session() as session:
        run = await session.get(SceneRun, run_id)
    assert run is not None
    return run


async def finished(db: Database, run_id: int, seconds: float = 60) -> SceneRun:
    async def over() -> SceneRun | None:
        run = await run_row(db, run_id)
        return run if run.status in ("finished", "failed", "cancelled") else None

    run = await wait_for(over, seconds=seconds, what=f"run {run_id} to end")
    assert isinstance(run, SceneRun)
    return run


async def history(db: Database, run_id: int) -> list[str]:
    async with db.session() as session:
        rows = await session.scalars(
            select(SceneRunEvent.kind)
            .where(SceneRunEvent.run_id == run_id)
            .order_by(SceneRunEvent.id)
        )
    return list(rows)


async def test_a_scene_is_refused_outside_own_chats_and_there_plays_in_order_following_a_member(
    stack: Stack, http: httpx.AsyncClient, bus: Bus, db: Database
) -> None:
    actors = await boot_scripts_mode(stack, http)
    scenario = await add_scenario(db, "welcome", WELCOME)
    elsewhere = await start(bus, scenario, await chat_id(db, f"@{OTHER_CHAT}"))
    assert elsewhere.outcome == "refused"
    assert "not marked as the operator's own community" in elsewhere.detail
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(SceneRun)) == 0

    result = await start(bus, scenario, await chat_id(db, f"@{OWN_CHAT}"), seed=7)
    assert result.outcome == "done", result
    (run_id,) = result.run_ids

    async def question_asked() -> bool:
        return any(
            m["text"] == "Any questions?" for m in await chat_messages(http, stack, OWN_CHAT)
        )

    await wait_for(question_asked, seconds=60, what="the host to ask for questions")
    maria = {"user_id": 880_001, "first_name": "Maria"}
    body = {"chat": f"@{OWN_CHAT}", "text": "What is the price?", "user": maria}
    asked = (await sandbox_call(http, stack, "/_sandbox/post", body))["message"]
    run = await finished(db, run_id)
    assert run.status == "finished", run.reason

    said = await chat_messages(http, stack, OWN_CHAT)
    ours = [m for m in said if m["sender"]["user_id"] in actors]
    texts = [m["text"] for m in ours]
    assert texts[0] in (
        "Hi everyone, welcome to CoolThing!",
        "Hello everyone, welcome to CoolThing!",
    )
    assert texts[1:] == [
        "Glad to be here. What does CoolThing do?",
        "It answers people who ask for what you sell. See https://example.com",
        "Any questions?",
        "Good question, Maria! Plans start at $10.",
        "That's all, thank you!",
    ]
    host, guest, expert = (ours[i]["sender"]["user_id"] for i in (0, 1, 2))
    assert len({host, guest, expert}) == 3  # one account per role
    assert [m["sender"]["user_id"] for m in ours] == [host, guest, expert, host, expert, host]
    assert ours[1]["reply_to_message_id"] == ours[0]["message_id"]  # guest quotes the hello
    assert ours[4]["reply_to_message_id"] == asked["message_id"]  # the answer quotes Maria
    assert ours[1]["date_ts"] - ours[0]["date_ts"] >= 0.4  # wait 20-40s at 1/50
    kinds = await history(db, run_id)
    assert kinds.count("line_sent") == 6
    assert "heard" in kinds and kinds[-1] == "finished"
    assert run.lines_sent == 6 and run.member_messages >= 1
    assert await chat_messages(http, stack, OTHER_CHAT) == []


async def test_a_flood_wait_delays_the_line_and_the_run_goes_on_without_repeating(
    stack: Stack, http: httpx.AsyncClient, bus: Bus, db: Database
) -> None:
    stack.env["COOLTHING_FLOOD_WAIT_HOLD"] = "1"  # a longer wait is handed back to the run
    actors = await boot_scripts_mode(stack, http, accounts=2)
    scenario = await add_scenario(db, "countdown", COUNTDOWN)
    fault = {"kind": "flood_wait", "account": actors[1], "seconds": 3, "operation": "send"}
    await sandbox_call(http, stack, "/_sandbox/faults", fault)
    cast = {"host": 1, "guest": 2}
    result = await start(bus, scenario, await chat_id(db, f"@{OWN_CHAT}"), cast=cast)
    assert result.outcome == "done", result
    started = time.monotonic()
    run = await finished(db, result.run_ids[0])
    assert run.status == "finished", run.reason
    assert time.monotonic() - started >= 3
    texts = [m["text"] for m in await chat_messages(http, stack, OWN_CHAT)]
    assert texts == [f"Line number {n} of the countdown" for n in range(1, 9)]
    assert "flood_wait" in await history(db, run.id)


async def test_killed_services_resume_the_run_from_the_next_line_without_repeating_one(
    stack: Stack, http: httpx.AsyncClient, bus: Bus, db: Database
) -> None:
    await boot_scripts_mode(stack, http, accounts=2)
    scenario = await add_scenario(db, "countdown", COUNTDOWN)
    cast = {"host": 1, "guest": 2}
    result = await start(bus, scenario, await chat_id(db, f"@{OWN_CHAT}"), cast=cast)
    assert result.outcome == "done", result

    async def lines_out(count: int) -> bool:
        return len(await chat_messages(http, stack, OWN_CHAT)) >= count

    await wait_for(lambda: lines_out(2), seconds=60, what="two lines")
    stack.kill("scripts")
    await asyncio.sleep(1.5)
    stack.start("scripts", "scripts")
    await wait_for(lambda: lines_out(5), seconds=60, what="five lines")
    stack.kill("bots-1")
    await asyncio.sleep(1.5)
    stack.start("bots-1", "bots", "--account", "1")
    run = await finished(db, result.run_ids[0])
    assert run.status == "finished", run.reason
    texts = [m["text"] for m in await chat_messages(http, stack, OWN_CHAT)]
    assert Counter(texts) == Counter(f"Line number {n} of the countdown" for n in range(1, 9))
    assert texts == [f"Line number {n} of the countdown" for n in range(1, 9)]
