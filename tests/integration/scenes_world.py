"""What the scene tests share: scripts accounts and an own chat on the panel's workspace, a run
row as the scripts service writes it, and a tiny scripts service answering ``command.scene`` on
the test bus (the other side of the contract: it records what it was asked and answers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from core.bus import Bus, decode_payload
from core.db import Database
from core.db.models import Account, Chat
from core.db.scene_models import (
    Scenario,
    ScenarioVersion,
    SceneChatMessage,
    SceneRun,
    SceneRunEvent,
    SceneRunLine,
)
from core.events import Event
from core.scene_commands import SCENE_COMMAND, SceneCommand, SceneResult
from core.topology import SCRIPTS_COMMANDS

SCENE = """\
title: Welcome
roles: host, guest
vars: product = CoolThing, link

host [id hello]: {Hi|Hello} everyone, welcome to {product}!
wait 2-4s
guest [reply hello]: Thanks! Where do I start?
listen 1m
  when "price", "cost"
    host [reply member]: {member}, see {link}
  when silent
    host: Docs: {link}
end
"""


async def add_scripts_accounts(db: Database, *names: str, role: str = "scripts") -> list[int]:
    async with db.transaction() as session:
        accounts = [Account(name=n, role=role, session_secret="unused") for n in names]
        session.add_all(accounts)
        await session.flush()
        return [a.id for a in accounts]


async def own_chat(db: Database, ref: str = "@jobs", **variables: str) -> int:
    """Marks the workspace's chat as the operator's own, with scene variables."""
    async with db.transaction() as session:
        await session.execute(
            update(Chat).where(Chat.ref == ref).values(own=True, scene_vars=dict(variables))
        )
        chat_id = await session.scalar(select(Chat.id).where(Chat.ref == ref))
    assert chat_id is not None
    return chat_id


async def played_run(db: Database, scenario_id: int, chat_id: int, cast: dict[str, int]) -> int:
    """A run part-way through, as the scripts service leaves it: the first line sent, the
    second typing, a member's message in between, and its events."""
    now = datetime.now(UTC)
    async with db.transaction() as session:
        scenario = await session.get(Scenario, scenario_id)
        assert scenario is not None
        run = SceneRun(
            scenario_id=scenario_id,
            version=scenario.version,
            chat_id=chat_id,
            chat_ref="@jobs",
            cast=cast,
            variables={"link": "https://example.com"},
            seed=7,
            status="playing",
            pc=2,
            start_at=now - timedelta(seconds=30),
            started_at=now - timedelta(seconds=30),
            next_at=now + timedelta(seconds=5),
            lines_sent=1,
            member_messages=1,
            created_by="operator",
            created_at=now,
            updated_at=now,
        )
        session.add(run)
        await session.flush()
        session.add_all(
            [
                _line(
                    run, 0, 5, "host", cast["host"], "Hi everyone, welcome to CoolThing!", now, 501
                ),
                _line(run, 2, 7, "guest", cast["guest"], "Thanks! Where do I start?", None, None),
                SceneChatMessage(
                    run_id=run.id,
                    telegram_message_id=502,
                    sender_user_id=9001,
                    sender_name="Maria",
                    text="Hello from a real member",
                    at=now - timedelta(seconds=10),
                ),
                SceneRunEvent(
                    run_id=run.id, kind="started", detail={}, at=now - timedelta(seconds=30)
                ),
                SceneRunEvent(
                    run_id=run.id,
                    kind="line_sent",
                    line=5,
                    detail={},
                    at=now - timedelta(seconds=20),
                ),
            ]
        )
        return run.id


def _line(
    run: SceneRun,
    pc: int,
    line: int,
    role: str,
    account: int,
    text: str,
    now: datetime | None,
    message_id: int | None,
) -> SceneRunLine:
    return SceneRunLine(
        run_id=run.id,
        chat_id=run.chat_id,
        pc=pc,
        line=line,
        role=role,
        account_id=account,
        text=text,
        text_hash=f"h{pc}",
        idempotency_key=f"run-{run.id}-{pc}",
        status="sent" if now else "queued",
        due_at=(now or datetime.now(UTC)) - timedelta(seconds=20),
        sent_at=now - timedelta(seconds=20) if now else None,
        telegram_message_id=message_id,
    )


@dataclass
class ScriptsService:
    """Answers every scene command with what ``answer`` says, keeping the commands it got."""

    answer: Callable[[SceneCommand], SceneResult]
    heard: list[SceneCommand] = field(default_factory=list)

    async def serve(self, bus: Bus) -> None:
        await bus.start()
        await bus.serve(SCRIPTS_COMMANDS, [SCENE_COMMAND], self._respond)

    async def _respond(self, event: Event) -> Event:
        command = decode_payload(event, SceneCommand)
        self.heard.append(command)
        return Event.of(self.answer(command), correlation_id=event.id)


async def a_scene_with_a_run(db: Database) -> None:
    """A scenario with its first version and a run part-way through, in the workspace's chat."""
    anna, boris = await add_scripts_accounts(db, "scene-anna", "scene-boris")
    chat = await own_chat(db, link="https://example.com")
    now = datetime.now(UTC)
    async with db.transaction() as session:
        scenario = Scenario(
            name="welcome",
            title="Welcome",
            version=1,
            source=SCENE,
            roles=["host", "guest"],
            cast={"host": anna, "guest": boris},
            created_at=now,
            updated_at=now,
        )
        session.add(scenario)
        await session.flush()
        session.add(
            ScenarioVersion(scenario_id=scenario.id, version=1, source=SCENE, created_at=now)
        )
        scenario_id = scenario.id
    await played_run(db, scenario_id, chat, {"host": anna, "guest": boris})
