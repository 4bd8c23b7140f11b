"""`coolthing demo`: the whole product in one process on embedded defaults.

SQLite, the in-memory bus and the sandbox Telegram with a simulated audience. The demo creates its
accounts in the sandbox, applies its workspace with their sessions, starts every service and one
worker per account, plays a scene in its own club chat every few minutes, serves the panel, and
prints every lead as it is found.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.engine import make_url

from admin.setup.scenarios import create_scenario
from admin.workspace.apply import apply_workspace
from admin.workspace.spec import WorkspaceSpec
from bots.bootstrap import build_worker
from coolthing.services import serve_admin
from coolthing.users_cmd import FirstOwner, ensure_first_owner
from core.access import Actor, Role
from core.db.models import Account, Chat, User
from core.db.scene_models import Scenario
from core.events import ConfigChanged, Event, LeadFound, MessageIncoming, MessageSent
from core.platform import Platform, open_platform
from core.scene_commands import SceneCommand, send_scene_command
from core.settings import Settings
from core.telegram_link_codes import new_code
from core.topology import DM_ROUTING_KEY
from core.yamlspec import load_yaml, validate
from manager.bootstrap import start_manager
from notifier.bootstrap import start_notifier
from parser.bootstrap import start_parser
from sandbox.bootstrap import RunningSandbox, serve
from scripts.bootstrap import start_scripts

log = logging.getLogger("coolthing.demo")
NOTIFIER_BOT = "coolthing_alerts_bot"
DEMO_SCENE = "club-qa"
DEMO_CLUB = "@coolthing_club"
SYSTEM = Actor(user_id=None, login="demo", role=Role.owner, channel="system")
DEMO_OPERATOR = 700_000_001  # the sandbox user who plays the operator in the web view


async def run_demo(settings: Settings, *, fresh: bool, rate: float) -> None:
    if fresh:
        _remove_sqlite_files(settings.database_url)
    sandbox = await serve(settings.sandbox_host, settings.sandbox_port)
    bot = await _notifier_bot(sandbox)
    settings = settings.model_copy(
        update={
            "sandbox_url": sandbox.url,
            "join_interval": 0.3,
            "notifier_bot_token": SecretStr(bot["token"]),
            "notifier_api_url": sandbox.url,
            "panel_url": f"http://{settings.api_host}:{settings.api_port}",
            # The scene comes round every few minutes: a shorter repeat window than a real
            # community's (72 h) lets its variants recur within the demo.
            "scene_repeat_window_hours": 0.25,
        }
    )
    try:
        async with open_platform(settings, migrate=True) as platform:
            await _seed(platform, sandbox)
            async with platform.db.transaction() as session:
                first_owner = await ensure_first_owner(session)
            await start_parser(platform)
            manager = await start_manager(platform)
            notifier = await start_notifier(platform)
            scripts = await start_scripts(platform)
            await _link_operator(platform, sandbox, bot)
            await platform.bus.subscribe("demo.lead-printer", [LeadFound.NAME], _print_lead)
            await platform.bus.subscribe(
                "demo.dm-printer", [MessageSent.NAME, DM_ROUTING_KEY], _print_dm
            )
            workers = DemoWorkers(platform)
            await workers.keep()
            await platform.bus.subscribe("demo.workers", [ConfigChanged.NAME], workers.keep)
            asyncio.create_task(_start_audience(sandbox, rate))
            await _play_scenes(platform)
            _banner(settings, sandbox, first_owner)
            try:
                await serve_admin(platform)
            finally:
                await workers.stop()
                await scripts.stop()
                await notifier.stop()
                await manager.stop()
    finally:
        await sandbox.stop()


async def _notifier_bot(sandbox: RunningSandbox) -> dict[str, Any]:
    """The notifier's bot in the sandbox (a real installation gets its token from @BotFather)."""
    async with aiohttp.ClientSession(base_url=sandbox.url) as http:
        body = {"username": NOTIFIER_BOT, "first_name": "CoolThing alerts"}
        return dict(await _sandbox_call(http, "/_sandbox/bots", body))


async def _link_operator(platform: Platform, sandbox: RunningSandbox, bot: dict[str, Any]) -> None:
    """The demo's operator in Telegram is linked to the first owner, as a person would link
    themselves (``/start CODE``): drafts, hand-offs and alerts arrive in the sandbox's web view."""
    async with platform.db.session() as session:
        owner = await session.scalar(
            select(User.id).where(User.role == "owner").order_by(User.id).limit(1)
        )
    if owner is None:
        return
    code, _ = new_code(platform.box, owner)
    body = {"user_id": DEMO_OPERATOR, "first_name": "You (operator)", "text": f"/start {code}"}
    async with aiohttp.ClientSession(base_url=sandbox.url) as http:
        await _sandbox_call(http, f"/_sandbox/bots/{bot['id']}/messages", body)


def _remove_sqlite_files(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return
    for suffix in ("", "-wal", "-shm"):
        Path(parsed.database + suffix).unlink(missing_ok=True)


async def _seed(platform: Platform, sandbox: RunningSandbox) -> None:
    """Create the demo's chats and accounts in the sandbox, then apply the demo workspace."""
    text = resources.files("coolthing").joinpath("demo_workspace.yaml").read_text("utf-8")
    located = load_yaml(text, "demo_workspace.yaml")
    data: dict[str, Any] = located.data  # type: ignore[assignment]  # a mapping, by the file
    async with aiohttp.ClientSession(base_url=sandbox.url) as http:
        for chat in data["chats"]:
            # Own chats are lively: members answer the scene's questions.
            body = {"ref": chat["ref"].lstrip("@"), "title": chat["title"]}
            if chat.get("own"):
                body["lively"] = True
            await _sandbox_call(http, "/_sandbox/chats", body)
        for account in data["accounts"]:
            body = {
                "first_name": account["name"].title(),
                "username": account["name"].replace("-", "_"),
                # fixed: the sandbox forgets everything on exit, a kept demo database does not
                "session": f"demo-session-{account['name']}",
            }
            created = await _sandbox_call(http, "/_sandbox/accounts", body)
            account["session"] = created["session"]
    spec = validate(WorkspaceSpec, located)
    async with platform.db.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=platform.box)


async def _sandbox_call(http: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> Any:
    async with http.post(path, json=body) as response:
        payload = await response.json()
    if not payload.get("ok"):
        raise RuntimeError(f"sandbox refused {path}: {payload.get('description')}")
    return payload


class DemoWorkers:
    """A worker per active account, in this process: started at launch and,
    when the configuration changes, for an account added (or logged in again) in the panel.
    In production the watchdog keeps one worker process per account instead."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._tasks: dict[int, asyncio.Task[None]] = {}

    async def keep(self, _changed: Event | None = None) -> None:
        for account_id in await _worker_accounts(self._platform):
            running = self._tasks.get(account_id)
            if running is None or running.done():
                worker = build_worker(self._platform, account_id, join_interval=0.3)
                self._tasks[account_id] = asyncio.create_task(worker.run())

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)


async def _worker_accounts(platform: Platform) -> list[int]:
    async with platform.db.session() as session:
        query = (
            select(Account.id)
            .where(Account.role.in_(("parser", "manager", "scripts")), Account.status == "active")
            .order_by(Account.id)
        )
        return list((await session.scalars(query)).all())


async def _play_scenes(platform: Platform) -> None:
    """The demo scene, saved as an admin would, plays in the club now and then every few
    minutes for two hours (runs spread over a window, as the panel's "start" offers)."""
    source = resources.files("coolthing").joinpath("demo_scene.txt").read_text("utf-8")
    async with platform.db.transaction() as session:
        scenario = await session.scalar(select(Scenario).where(Scenario.name == DEMO_SCENE))
        if scenario is None:
            scenario = await create_scenario(session, SYSTEM, name=DEMO_SCENE, source=source)
        club = await session.scalar(select(Chat.id).where(Chat.ref == DEMO_CLUB))
    later = datetime.now(UTC) + timedelta(minutes=4)
    for runs, window, start_at in ((1, 0.0, None), (24, 120.0, later)):
        command = SceneCommand(
            action="start",
            actor=SYSTEM,
            scenario_id=scenario.id,
            chat_id=club,
            runs=runs,
            window_minutes=window,
            start_at=start_at,
        )
        result = await send_scene_command(platform.bus, command)
        if result.outcome != "done":
            log.warning(
                f"the demo scene did not start: {'; '.join(result.problems) or result.detail}"
            )
            return
    log.info(f"scene {DEMO_SCENE!r} plays in {DEMO_CLUB} now and every few minutes")


async def _start_audience(sandbox: RunningSandbox, rate: float) -> None:
    """Strangers chat in the target chats; the club's members only answer the scene (they are
    "lively"), so what happens there is the scene and the answers it gets."""
    await asyncio.sleep(3)  # let the workers join their chats first
    async with aiohttp.ClientSession(base_url=sandbox.url) as http:
        async with http.get("/_sandbox/chats") as response:
            listed = (await response.json())["chats"]
        chats = [c["chat_id"] for c in listed if not c["lively"]]
        body = {"rate": rate, "seed": random.randrange(1_000_000), "chats": chats}
        await _sandbox_call(http, "/_sandbox/audience/start", body)


async def _print_lead(event: Event) -> None:
    lead = event.payload_as(LeadFound)
    kind = "new lead" if lead.is_new else "lead again"
    text = lead.text if len(lead.text) < 90 else lead.text[:87] + "..."
    # The audience's sellers and job seekers say the keywords too: their verdict is "maybe"
    # (no DM), and the reason says which words decided it.
    verdict = ""
    if lead.intent is not None:
        verdict = f" [{lead.intent} {lead.score or 0:.2f}: {lead.reason or ''}]"
    log.info(
        f"{kind} #{lead.lead_id} (campaign {lead.campaign_id}) {lead.keywords}{verdict}: {text}"
    )


async def _print_dm(event: Event) -> None:
    if event.name == MessageSent.NAME:
        sent = event.payload_as(MessageSent)
        log.info(f"DM sent to user {sent.peer_user_id} (conversation {sent.conversation_id})")
    else:
        reply = event.payload_as(MessageIncoming)
        text = reply.text if len(reply.text) < 90 else reply.text[:87] + "..."
        log.info(f"reply from {reply.sender.first_name or reply.sender.user_id}: {text}")


def _banner(settings: Settings, sandbox: RunningSandbox, owner: FirstOwner | None) -> None:
    api = f"http://{settings.api_host}:{settings.api_port}"
    log.info(
        f"CoolThing demo is up. Panel: {api}/  API: {api}/docs  "
        f"Telegram (the sandbox, to watch and click): {sandbox.url}/  (Ctrl-C stops)"
    )
    log.info(
        f"Drafts to approve and alerts arrive in the chat of 'You (operator)' with "
        f"@{NOTIFIER_BOT} at {sandbox.url}/ (Bots); press Approve there and watch the DM go."
    )
    if owner is not None:  # printed once: only hashes are stored
        print(
            f"\n  First owner created (shown once, keep it). Sign in at {api}/login\n"
            f"    login:     {owner.login}\n"
            f"    password:  {owner.password}\n"
            f"    API token: {owner.token}\n"
            f"  Try: curl -H 'Authorization: Bearer {owner.token}' {api}/api/v1/leads\n",
            flush=True,
        )
