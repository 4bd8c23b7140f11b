"""Runs of scenes on SQLite (the demo) and PostgreSQL: a person pauses, resumes and cancels them,
schedules several over a window, and every start that cannot be played is refused with its
reasons, writing nothing."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from core.db.models import Lead
from core.db.scene_models import SceneRun, SceneRunLine
from tests.conftest import eventually
from tests.integration.scene_world import SceneWorld

SLOW = "roles: host, guest\n\n" + "\n".join(
    f"{'host' if n % 2 else 'guest'}: Slow line {n}\nwait 40s" for n in range(1, 5)
)  # 40 s at 1/50: 0.8 s between lines


async def runs_count(world: SceneWorld) -> int:
    async with world.platform.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(SceneRun)) or 0)


async def test_a_paused_run_sends_nothing_until_resumed_then_plays_to_the_end(
    scenes: SceneWorld,
) -> None:
    scenario = await scenes.scenario("slow", SLOW)
    started = await scenes.start(scenario)
    assert started.outcome == "done", started
    run_id = started.run_ids[0]

    async def first_line() -> bool:
        return await scenes.lines() == ["Slow line 1"]

    await eventually(first_line, what="the first line")
    paused = await scenes.command("pause", run_id=run_id)
    assert paused.outcome == "done", paused
    await asyncio.sleep(1.5)  # two pauses' worth
    assert await scenes.lines() == ["Slow line 1"]
    assert (await scenes.run(run_id)).status == "paused"
    again = await scenes.command("pause", run_id=run_id)
    assert again.outcome == "conflict"
    resumed = await scenes.command("resume", run_id=run_id)
    assert resumed.outcome == "done", resumed
    run = await scenes.ended(run_id)
    assert run.status == "finished", run.reason
    assert await scenes.lines() == [f"Slow line {n}" for n in range(1, 5)]
    kinds = await scenes.history(run_id)
    assert kinds.index("paused") < kinds.index("resumed") < kinds.index("finished")


async def test_a_cancelled_run_stops_and_says_who_cancelled_it(scenes: SceneWorld) -> None:
    scenario = await scenes.scenario("slow", SLOW)
    run_id = (await scenes.start(scenario)).run_ids[0]
    await eventually(scenes.lines, what="the first line")
    cancelled = await scenes.command("cancel", run_id=run_id)
    assert cancelled.outcome == "done", cancelled
    said_by_then = len(await scenes.lines())
    run = await scenes.run(run_id)
    assert run.status == "cancelled" and run.reason == "cancelled by olga"
    await asyncio.sleep(3.5)  # the whole scene's time: uncancelled, all four lines would be out
    # A line already with its account may still go; nothing after it.
    assert len(await scenes.lines()) <= said_by_then + 1 < 4
    assert (await scenes.command("resume", run_id=run_id)).outcome == "conflict"
    assert (await scenes.command("pause", run_id=999)).outcome == "missing"


async def test_several_runs_are_spread_over_the_window(scenes: SceneWorld) -> None:
    scenario = await scenes.scenario(
        "hello", "roles: host\n\nhost: {Hi|Hello|Hey} all {!one|two|three}"
    )
    result = await scenes.start(scenario, runs=3, window_minutes=60)
    assert result.outcome == "done", result
    assert len(result.run_ids) == 3
    gaps = [(b - a).total_seconds() for a, b in zip(result.starts, result.starts[1:], strict=False)]
    assert all(gap > 0 for gap in gaps)
    assert (result.starts[-1] - result.starts[0]).total_seconds() < 3600


async def test_a_start_that_cannot_be_played_is_refused_with_every_reason_and_writes_nothing(
    scenes: SceneWorld,
) -> None:
    source = """\
roles: host, guest, expert
vars: product, link

host: {product} at {link}
listen 1m
  when keywords nowhere
    expert [reply member]: Thanks {member}
    lead no-such-campaign
end
"""
    scenario = await scenes.scenario("broken", source)
    result = await scenes.start(scenario)
    assert result.outcome == "refused"
    problems = "\n".join(result.problems)
    assert "role expert: no free scripts account" in problems  # two accounts, three roles
    assert "variable {product} has no value" in problems
    assert "keyword set 'nowhere' (when keywords) does not exist" in problems
    assert "campaign 'no-such-campaign' (lead) does not exist" in problems
    assert await runs_count(scenes) == 0


async def test_an_account_busy_in_a_run_of_the_chat_is_not_cast_again(scenes: SceneWorld) -> None:
    scenario = await scenes.scenario("slow", SLOW)
    first = await scenes.start(scenario, cast={"host": 1, "guest": 2})
    assert first.outcome == "done", first
    second = await scenes.start(scenario, cast={"host": 1})
    assert second.outcome == "refused"
    assert "role host: account actor-1 already plays in run" in second.problems[0]
    assert await runs_count(scenes) == 1


async def test_a_once_per_chat_variation_used_up_refuses_the_next_run(scenes: SceneWorld) -> None:
    scenario = await scenes.scenario("once", "roles: host\n\nhost: Welcome, {!friends|folks}!")
    for _ in range(2):
        run_id = (await scenes.start(scenario)).run_ids[0]
        assert (await scenes.ended(run_id)).status == "finished"
    assert sorted(await scenes.lines()) == ["Welcome, folks!", "Welcome, friends!"]
    third = await scenes.start(scenario)
    assert third.outcome == "refused"
    assert "every option of this once-per-chat variation was already used" in third.detail


async def test_a_fixed_line_is_not_sent_twice_in_a_chat_within_the_window(
    scenes: SceneWorld,
) -> None:
    scenario = await scenes.scenario("fixed", "roles: host\n\nhost: Good morning, club!")
    run_id = (await scenes.start(scenario)).run_ids[0]
    assert (await scenes.ended(run_id)).status == "finished"
    again = await scenes.start(scenario)
    assert again.outcome == "refused"
    assert "went out in this chat" in again.detail
    async with scenes.platform.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(SceneRunLine)) == 1


async def test_a_member_who_asks_off_script_becomes_a_lead_of_the_named_campaign(
    scenes_with_parser: SceneWorld,
) -> None:
    world = scenes_with_parser
    source = """\
roles: host
host: Tell us what you are building!
listen 5m
  when anything
    host [reply member]: Thanks, {member}, someone will write to you.
    lead followups
end
"""
    scenario = await world.scenario("ask", source)
    run_id = (await world.start(scenario)).run_ids[0]
    await eventually(world.lines, what="the host's question")
    # At once: the answer may reach the scripts service before the question's confirmation.
    await world.post("We need a booking bot for our salon", user_id=881_777, name="Irina")
    run = await world.ended(run_id)
    assert run.status == "finished", run.reason
    assert (await world.lines())[-1] == "Thanks, Irina, someone will write to you.", (
        await world.history(run_id),
        [(m["message_id"], m["text"]) for m in await world.said()],
    )

    async def lead() -> Lead | None:
        async with world.platform.db.session() as session:
            return await session.scalar(select(Lead).where(Lead.telegram_user_id == 881_777))

    found = await eventually(lead, what="the parser to record the lead")
    assert found.keywords == [f"scene run {run_id}"]
    assert found.text == "We need a booking bot for our salon"
