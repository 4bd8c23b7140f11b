"""The admin service as `coolthing run admin` starts it, on a free loopback port, with a manager
answering operator commands, the parser answering lead marks and the scripts service answering
scene commands: the real platform bootstrap in a thread with its own event loop, so the server,
the database engine and the bus share one loop while a test calls it over real HTTP.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from admin.access import users
from admin.workspace.apply import apply_workspace, read_workspace
from coolthing.services import serve_admin
from core.access import Actor, Role
from core.db.models import Conversation
from core.events import MessageIncoming, Profile
from core.operator_commands import OperatorCommand, send_operator_command
from core.platform import Platform, open_platform
from core.settings import Settings
from manager.bootstrap import start_manager
from parser.bootstrap import start_parser
from parser.leads import record_hits
from parser.matcher import Hit
from scripts.bootstrap import start_scripts
from tests.conftest import add_people, reset_postgres
from tests.integration.conftest import workspace
from watchdog.commands import serve_commands

T = TypeVar("T")
START_TIMEOUT = 60.0  # seconds; migrations on a busy PostgreSQL take most of it


class LiveAdmin:
    """A running admin service; ``url`` is its root, ``tokens`` an API token per role."""

    def __init__(self, settings: Settings, *, reset_url: str | None, leads: int) -> None:
        self.settings = settings
        self.url = f"http://127.0.0.1:{settings.api_port}"
        self.tokens: dict[Role, str] = {}
        self._reset_url = reset_url
        self._leads = leads
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="live-admin", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._started.wait(START_TIMEOUT):
            raise TimeoutError(f"the admin service did not start within {START_TIMEOUT:g} s")
        if self._failure is not None:
            raise RuntimeError("the admin service failed to start") from self._failure
        self._wait_until_serving()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        if self._failure is not None:
            raise RuntimeError("the admin service failed while running") from self._failure

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the service's loop (where its engine lives); return the result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)

    def new_token(self, role: Role) -> tuple[int, str]:
        """A fresh API token for the user named after ``role``: (token id, token)."""
        return self.call(self._new_token(role))

    async def _new_token(self, role: Role) -> tuple[int, str]:
        async with self.platform.db.transaction() as session:
            user = await users.get_user(session, role.value)
            row, token = await users.create_token(session=session, user=user, name="contract")
            return row.id, token

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.url}/healthz did not answer 200")
            time.sleep(0.05)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread by start() / stop()
            self._failure = exc
        finally:
            self._started.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._reset_url is not None:
            await reset_postgres(self._reset_url)
        async with open_platform(self.settings, migrate=True) as platform:
            self.platform = platform
            manager = await start_manager(platform)
            parser = await start_parser(platform)  # answers the lead marks of /leads/{id}/mark
            scripts = await start_scripts(platform)  # answers the scene commands of /runs
            await serve_commands(platform.bus, platform.db)  # answers /workers (database only)
            try:
                await self._seed(platform)
                serving = asyncio.create_task(serve_admin(platform), name="admin")
                self._started.set()
                await self._stop.wait()
                serving.cancel()
                await asyncio.gather(serving, return_exceptions=True)
            finally:
                await scripts.stop()
                await parser.stop()
                await manager.stop()

    async def _seed(self, platform: Platform) -> None:
        """People with tokens, the outreach workspace, and leads the manager drafted for."""
        self.tokens = await add_people(platform.db)
        spec, located = read_workspace(self._workspace_file())
        async with platform.db.transaction() as session:
            await apply_workspace(session=session, spec=spec, located=located, box=platform.box)
        for user in range(1, self._leads + 1):
            async with platform.db.transaction() as session:
                await record_hits(session, _message(user), [_HIT], correlation_id=None)
        await _wait_for(platform, self._leads)
        # The last conversation is taken over, so one takes a message written by hand.
        owner = Actor(login="owner", role=Role.owner, channel="cli")
        command = OperatorCommand(action="take_over", actor=owner, conversation_id=self._leads)
        taken = await send_operator_command(platform.bus, command)
        assert taken.outcome == "done", taken.detail

    def _workspace_file(self) -> Path:
        path = Path(self.settings.secret_key_file).with_name("workspace.yaml")
        path.write_text(workspace(", approval: true"), encoding="utf-8")
        return path


_HIT = Hit(1, "web-dev", 1, ("разработчик",))


def _message(user: int) -> MessageIncoming:
    return MessageIncoming(
        account_id=1,
        chat_id=-100,
        chat_ref="@jobs",
        message_id=user,
        text="Ищу разработчика",
        date=datetime.now(UTC),
        sender=Profile(user_id=700 + user, first_name="Анна", username=f"user{700 + user}"),
    )


async def _wait_for(platform: Platform, conversations: int) -> None:
    """Until the manager has opened a conversation (and drafted) for every lead."""
    for _ in range(600):
        async with platform.db.session() as session:
            if (
                await session.scalar(select(func.count()).select_from(Conversation))
                == conversations
            ):
                return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the manager did not open {conversations} conversations")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def live_admin(
    database_url: str, directory: Path, *, reset: bool = False, leads: int = 3
) -> Iterator[LiveAdmin]:
    """Start the admin service (and a manager) on ``database_url``, stop both on exit."""
    settings = Settings(
        env="test",
        database_url=database_url,
        bus_url=f"memory://live-admin-{uuid.uuid4().hex}",
        secret_key=Fernet.generate_key().decode(),
        secret_key_file=directory / "secret.key",
        api_port=free_port(),
    )
    running = LiveAdmin(settings, reset_url=database_url if reset else None, leads=leads)
    running.start()
    try:
        yield running
    finally:
        running.stop()
