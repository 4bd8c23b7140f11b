"""Scripts mode in one process, as `coolthing demo` runs it: the sandbox Telegram, the scripts
service and a worker per scripts account on the in-memory bus, on a real database (SQLite or
PostgreSQL). Tests start runs with the scripts service's own command, as the panel does, and
read the chat as its members see it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from sqlalchemy import select

from admin.workspace.apply import apply_workspace, read_workspace
from bots.bootstrap import build_worker
from core.access import Actor, Role
from core.bus.memory import InMemoryBus
from core.db import Database
from core.db.models import Chat
from core.db.scene_models import Scenario, ScenarioVersion, SceneRun, SceneRunEvent
from core.outbox import OutboxRelay
from core.platform import Platform
from core.scene_commands import SceneCommand, SceneResult, send_scene_command
from core.security import SecretBox
from core.settings import Settings
from sandbox.bootstrap import RunningSandbox
from scripts.bootstrap import RunningScripts, start_scripts
from tests.conftest import eventually

T = TypeVar("T")
OWN = "our_club"
ACTOR = Actor(user_id=1, login="olga", role=Role.operator, channel="panel")


@dataclass
class SceneWorld:
    platform: Platform
    http: aiohttp.ClientSession
    tmp: Path
    actors: list[int] = field(default_factory=list)  # the scripts accounts' Telegram user ids
    scripts: RunningScripts | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def call(self, path: str, body: object = None) -> Any:
        method = "GET" if body is None else "POST"
        async with self.http.request(method, path, json=body) as response:
            payload = await response.json()
        assert payload["ok"], payload
        return payload

    async def boot(self, *, accounts: int = 2, campaign: bool = False) -> None:
        """``accounts`` scripts accounts; with ``campaign``, also a parser account and the
        campaign "followups" (keyword set pricing) that scenes may hand members to."""
        sessions = []
        for n in range(1, accounts + 1):
            made = await self.call("/_sandbox/accounts", {"first_name": f"Actor{n}"})
            sessions.append(made["session"])
            self.actors.append(int(made["user_id"]))
        await self.call("/_sandbox/chats", {"ref": OWN, "title": "Our club"})
        rows = "\n".join(
            f'  - {{name: actor-{n}, role: scripts, session: "{s}"}}'
            for n, s in enumerate(sessions, 1)
        )
        extra = ""
        if campaign:
            listener = await self.call("/_sandbox/accounts", {"first_name": "Listener"})
            rows += f'\n  - {{name: listener, role: parser, session: "{listener["session"]}"}}'
            extra = (
                "campaigns:\n  - {name: followups, keyword_sets: [pricing], "
                'chats: ["@elsewhere"], parser_accounts: [listener]}\n'
            )
        text = f"""\
accounts:
{rows}
keyword_sets:
  - {{name: pricing, keywords: [price, cost]}}
chats:
  - {{ref: "@{OWN}", title: Our club, own: true, vars: {{link: "https://example.com"}}}}
{extra}"""
        path = self.tmp / "workspace.yaml"
        path.write_text(text, "utf-8")
        spec, located = read_workspace(path)
        async with self.platform.db.transaction() as session:
            await apply_workspace(
                session=session, spec=spec, located=located, box=self.platform.box
            )
        self.scripts = await start_scripts(self.platform)
        for account_id in range(1, accounts + 1):
            worker = build_worker(self.platform, account_id, join_interval=0.0)
            self.tasks.append(asyncio.create_task(worker.run()))

    async def stop(self) -> None:
        if self.scripts is not None:
            await self.scripts.stop()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    # ---- scenes and runs -------------------------------------------------------------------

    async def scenario(self, name: str, source: str, cast: dict[str, int] | None = None) -> int:
        """What the admin API stores for a saved scene (version 1)."""
        async with self.platform.db.transaction() as session:
            row = Scenario(name=name, version=1, source=source, roles=[], cast=cast or {})
            session.add(row)
            await session.flush()
            session.add(ScenarioVersion(scenario_id=row.id, version=1, source=source))
            return row.id

    async def chat_id(self, ref: str = f"@{OWN}") -> int:
        async with self.platform.db.session() as session:
            found = await session.scalar(select(Chat.id).where(Chat.ref == ref))
        assert found is not None
        return found

    async def command(self, action: str, **fields: Any) -> SceneResult:
        command = SceneCommand.model_validate({"action": action, "actor": ACTOR, **fields})
        return await send_scene_command(self.platform.bus, command)

    async def start(self, scenario: int, **fields: Any) -> SceneResult:
        chat = fields.pop("chat_id", None) or await self.chat_id()
        return await self.command("start", scenario_id=scenario, chat_id=chat, **fields)

    async def run(self, run_id: int) -> SceneRun:
        async with self.platform.db.session() as session:
            run = await session.get(SceneRun, run_id)
        assert run is not None
        return run

    async def history(self, run_id: int) -> list[str]:
        async with self.platform.db.session() as session:
            rows = await session.scalars(
                select(SceneRunEvent.kind)
                .where(SceneRunEvent.run_id == run_id)
                .order_by(SceneRunEvent.id)
            )
        return list(rows)

    async def ended(self, run_id: int, seconds: float = 30) -> SceneRun:
        async def over() -> SceneRun | None:
            run = await self.run(run_id)
            return run if run.status in ("finished", "failed", "cancelled") else None

        return await eventually(over, seconds=seconds, what=f"run {run_id} to end")

    async def said(self) -> list[dict[str, Any]]:
        """The chat as its members see it, oldest first."""
        return list((await self.call(f"/_sandbox/messages?chat=@{OWN}"))["messages"])

    async def lines(self) -> list[str]:
        return [m["text"] for m in await self.said() if m["sender"]["user_id"] in self.actors]

    async def post(self, text: str, *, user_id: int = 881_001, name: str = "Maria") -> Any:
        body = {"chat": f"@{OWN}", "text": text, "user": {"user_id": user_id, "first_name": name}}
        return (await self.call("/_sandbox/post", body))["message"]


@asynccontextmanager
async def scene_world(
    db: Database, box: SecretBox, sandbox: RunningSandbox, tmp: Path, **overrides: Any
) -> AsyncIterator[SceneWorld]:
    async with aiohttp.ClientSession(base_url=sandbox.url) as http:
        settings = Settings(
            env="test",
            database_url=db.url,
            bus_url="memory://scenes",
            sandbox_url=sandbox.url,
            **{"scene_time_scale": 0.02, **overrides},
        )
        bus = InMemoryBus(f"memory://scenes-{id(http)}")
        await bus.start()
        relay = OutboxRelay(db, bus)
        relaying = asyncio.create_task(relay.run())
        world = SceneWorld(Platform(settings, db, bus, box, relay), http, tmp)
        try:
            yield world
        finally:
            await world.stop()
            relaying.cancel()
            await asyncio.gather(relaying, return_exceptions=True)
            await bus.close()
