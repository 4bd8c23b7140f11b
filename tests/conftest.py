"""Shared fixtures: where the real PostgreSQL and RabbitMQ live (`make test` starts them), and the
stack of `coolthing` processes the e2e and browser tiers run against."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import aio_pika
import asyncpg
import httpx
import pytest
from alembic.script import ScriptDirectory
from argon2 import PasswordHasher, profiles
from cryptography.fernet import Fernet
from fastapi import FastAPI
from sqlalchemy import text

from admin.access import users
from admin.app import create_app
from coolthing import users_cmd, workspace_cmd
from core.access import Role
from core.bus import Bus
from core.db import Database
from core.db.migrate import alembic_config, upgrade
from core.db.models import Base, User
from core.security import SecretBox
from core.settings import Settings
from tests.warm_start import WarmProcess, WarmStarter

T = TypeVar("T")


TASK_DUMP_AFTER = 285.0  # seconds: just before pytest-timeout's 300 s stops the test


def _dump_asyncio_tasks() -> None:
    """pytest-timeout shows threads, and a hung async test's thread only waits in select():
    the tasks and where each one waits tell what it waits for. Read from another thread, which
    is unsafe in general and good enough for a post-mortem."""
    tasks = [t for t in list(vars(asyncio.tasks).get("_all_tasks", ())) if not t.done()]
    print(f"\n+++ {len(tasks)} asyncio tasks still pending +++", file=sys.stderr)
    for task in tasks:
        print(f"--- {task.get_name()}: {task.get_coro()!r}", file=sys.stderr)
        task.print_stack(limit=12, file=sys.stderr)


@pytest.fixture(autouse=True)
def _tasks_dumped_before_a_timeout() -> Iterator[None]:
    timer = threading.Timer(TASK_DUMP_AFTER, _dump_asyncio_tasks)
    timer.daemon = True
    timer.start()
    yield
    timer.cancel()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get(
        "COOLTHING_TEST_DATABASE_URL",
        "postgresql+asyncpg://coolthing:coolthing@127.0.0.1:5432/coolthing_test",
    )
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    own = url if worker is None else _suffixed(url, worker)
    asyncio.run(_prepare_database(url, own))
    return own


@pytest.fixture(scope="session")
def amqp_url() -> str:
    url = os.environ.get(
        "COOLTHING_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/coolthing_test"
    )
    if (worker := os.environ.get("PYTEST_XDIST_WORKER")) is None:
        return url
    own = _suffixed(url, worker)
    vhost = unquote(urlsplit(own).path[1:])
    asyncio.run(rabbitmqctl("add_vhost", vhost))  # succeeds when it exists
    asyncio.run(rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"))
    return own


def _suffixed(url: str, worker: str) -> str:
    """Under pytest-xdist (``make test`` runs two workers) each worker has its own database and
    RabbitMQ virtual host: the test one's name with ``_gw0``, ``_gw1`` … appended."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path}_{worker}"))


async def _prepare_database(url: str, own: str) -> None:
    """Create the worker's database when missing, and let its commits return before their WAL
    reaches the disk (3 ms less a commit here; a test database need not survive a power cut)."""
    name = urlsplit(own).path[1:]
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        if not await connection.fetchval("select 1 from pg_database where datname = $1", name):
            await connection.execute(f'create database "{name}"')
        await connection.execute(f'alter database "{name}" set synchronous_commit = off')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per test process; each test gets a copy."""
    path = tmp_path_factory.mktemp("schema") / "migrated.db"

    async def migrate() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        await upgrade(db)
        await db.close()

    asyncio.run(migrate())
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str, sqlite_template: Path
) -> AsyncIterator[Database]:
    """A freshly migrated, empty database: a SQLite file, and the real PostgreSQL."""
    if request.param == "sqlite":
        shutil.copyfile(sqlite_template, tmp_path / "test.db")
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    else:
        db = Database(postgres_url)
        await empty_postgres(db)
    yield db
    await db.close()


@lru_cache(maxsize=1)
def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


async def empty_postgres(db: Database) -> None:
    """Empty every table when the schema is the newest; otherwise — a stack test dropped it, a
    test downgraded it — migrate from nothing. Emptying is a DELETE per table (children first)
    and every sequence restarted, in one round trip: on a test's few rows that is ten times
    cheaper than TRUNCATE, which makes new files for 40-odd tables (150 ms, every test)."""
    async with db.engine.begin() as connection:
        if await connection.scalar(text("select to_regclass('public.alembic_version')")):
            version = await connection.scalar(text("select version_num from alembic_version"))
            if version == _head():
                sequences = await connection.scalars(
                    text("select sequencename from pg_sequences where schemaname = 'public'")
                )
                children_first = reversed(Base.metadata.sorted_tables)
                statements = [f"delete from {table.name}" for table in children_first]  # noqa: S608
                statements += [f"alter sequence {name} restart" for name in sequences]
                raw = await connection.get_raw_connection()
                await raw.driver_connection.execute("; ".join(statements))  # type: ignore[union-attr]
                return
    await reset_postgres(db.url)
    await upgrade(db)


async def reset_postgres(url: str) -> None:
    """Drop everything in the test database's public schema."""
    db = Database(url)
    async with db.engine.begin() as connection:
        await connection.execute(text("drop schema public cascade"))
        await connection.execute(text("create schema public"))
    await db.close()


@pytest.fixture
def secret_box() -> SecretBox:
    return SecretBox(Fernet.generate_key())


PASSWORD = "correct horse battery staple"


@lru_cache(maxsize=1)
def password_hash() -> str:
    """``PASSWORD`` hashed once with argon2's cheapest parameters. A sign-in still verifies a
    real argon2id hash (the parameters travel inside it), in a millisecond instead of half a
    second: over the hundreds of tests that sign people in, minutes of CPU. Users made through
    the CLI or the panel get argon2-cffi's defaults, as in production."""
    return PasswordHasher.from_parameters(profiles.CHEAPEST).hash(PASSWORD)


async def add_people(db: Database) -> dict[Role, str]:
    """One user per role (login = the role's name, password ``PASSWORD``) and an API token each."""
    tokens: dict[Role, str] = {}
    async with db.transaction() as session:
        for role in Role:
            user = User(login=role.value, password_hash=password_hash(), role=role)
            session.add(user)
            await session.flush()
            _, tokens[role] = await users.create_token(session=session, user=user, name="tests")
    return tokens


def admin_app(db: Database, bus: Bus, **settings: Any) -> FastAPI:
    """The admin app as `coolthing run admin` builds it, with test settings."""
    return create_app(
        db=db, bus=bus, settings=Settings(**settings), box=SecretBox(Fernet.generate_key())
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def rabbitmqctl(*args: str) -> None:
    """Run ``rabbitmqctl`` (stop_app, start_app, …) against the test broker; fails the test on
    an error, with what the tool said."""
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl",
        "-q",
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, f"rabbitmqctl {' '.join(args)}: {err.decode()}"


# The stack: each service as its own `coolthing` process (the e2e and browser tiers).

SERVICE_QUEUES = [
    "parser.messages",
    "parser.control",
    "parser.lead_commands",
    "manager.leads",
    "manager.replies",
    "manager.results",
    "manager.control",
    "manager.operator",
    "notifier.events",
    "notifier.control",
    "scripts.commands",
    "scripts.results",
    "scripts.chats",
    *(f"bots.account.{n}" for n in range(1, 5)),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_warm: WarmStarter | None = None


def warm_starter() -> WarmStarter | None:
    """This test process's warm parent (``tests/warm_start.py``), started on first use; None
    with ``COOLTHING_TEST_COLD_START=1``, which starts every service as a new interpreter."""
    global _warm  # one per test process, for every stack it runs
    if os.environ.get("COOLTHING_TEST_COLD_START") == "1":
        return None
    if _warm is None:
        _warm = WarmStarter()
    return _warm


class Stack:
    """Starts `coolthing` processes with one shared environment and stops them all at the end:
    forked from the warm parent (``coolthing run``'s entry without its seconds of imports)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes] | WarmProcess] = {}
        self.slow_to_stop: list[str] = []
        self.sandbox_url = f"http://127.0.0.1:{env['COOLTHING_SANDBOX_PORT']}"
        self.api_url = f"http://127.0.0.1:{env['COOLTHING_API_PORT']}"

    def command(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        if (warm := warm_starter()) is not None:
            return warm.run(list(args), self.env, stdin=stdin or b"", timeout=120)
        return subprocess.run(
            [sys.executable, "-m", "coolthing", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            timeout=120,
            check=False,
        )

    async def migrate(self) -> None:
        """The schema, by what ``coolthing migrate`` runs, in this process: a CLI process costs
        two seconds of imports per test (the CLI itself has tests of its own)."""
        db = Database(self.env["COOLTHING_DATABASE_URL"])
        try:
            await upgrade(db)
        finally:
            await db.close()

    async def apply_workspace(self, path: Path) -> None:
        """``coolthing workspace apply PATH``'s own function, in this process."""
        settings = Settings(
            database_url=self.env["COOLTHING_DATABASE_URL"],
            secret_key=self.env["COOLTHING_SECRET_KEY"],
        )
        await workspace_cmd.apply_file(settings, path)

    async def add_user(self, login: str, role: str) -> str:
        """A user and an API token for them, by the functions ``coolthing users create`` and
        ``coolthing users token create`` run, in this process."""
        db = Database(self.env["COOLTHING_DATABASE_URL"])
        try:
            async with db.transaction() as session:
                await users_cmd.create(
                    session, login=login, password=PASSWORD, role=Role(role), email=None
                )
                _, token = await users_cmd.create_token(session, login=login, name="e2e")
        finally:
            await db.close()
        return token

    def start(self, name: str, *args: str) -> None:
        if (warm := warm_starter()) is not None:
            self.procs[name] = warm.start(["run", *args], self.env, self.logs / f"{name}.log")
            return
        with (self.logs / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "coolthing", "run", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        """SIGTERM, then SIGKILL for what has not stopped in 15 s (named in ``slow_to_stop``)."""
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.slow_to_stop.append(name)
                proc.kill()
                proc.wait(timeout=10)
        self.procs.clear()

    def service_logs(self, *, exclude: tuple[str, ...] = ()) -> dict[str, str]:
        """Each service's whole log so far, by file name."""
        return {
            path.name: path.read_text(errors="replace")
            for path in self.logs.glob("*.log")
            if path.stem not in exclude
        }

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in self.logs.glob("*.log")
        )


async def delete_exchange(amqp_url: str, name: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        await (await connection.channel()).exchange_delete(name)


async def delete_queues(amqp_url: str, names: list[str]) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for name in names:
            for queue in (name, f"{name}.dlq"):
                await channel.queue_delete(queue)


@pytest.fixture
async def stack(postgres_url: str, amqp_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    await reset_postgres(postgres_url)
    await delete_queues(amqp_url, SERVICE_QUEUES)
    env = {
        **os.environ,
        "COOLTHING_ENV": "test",
        "COOLTHING_DATABASE_URL": postgres_url,
        "COOLTHING_BUS_URL": amqp_url,
        "COOLTHING_SECRET_KEY": Fernet.generate_key().decode(),
        "COOLTHING_SANDBOX_PORT": str(free_port()),
        "COOLTHING_API_PORT": str(free_port()),
        "COOLTHING_JOIN_INTERVAL": "0",
        "COOLTHING_LOG_LEVEL": "INFO",
    }
    env["COOLTHING_SANDBOX_URL"] = f"http://127.0.0.1:{env['COOLTHING_SANDBOX_PORT']}"
    stack = Stack(env, tmp_path)
    try:
        yield stack
    finally:
        stack.stop_all()
    # Containers get SIGTERM and a grace period: every service must stop well within it.
    assert not stack.slow_to_stop, f"needed SIGKILL after 15 s: {stack.slow_to_stop}"


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, seconds: float = 15, what: str
) -> T:
    """Poll ``probe`` until it returns something truthy (returned) or ``seconds`` run out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        found = await probe()
        if found:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(0.1)


async def wait_for(
    check: Callable[[], Awaitable[object]], *, seconds: float, what: str, interval: float = 0.25
) -> object:
    """Poll ``check`` until it returns something truthy or ``seconds`` run out."""
    deadline = asyncio.get_running_loop().time() + seconds
    last: object = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            last = await check()
            if last:
                return last
        except (httpx.HTTPError, OSError) as exc:
            last = exc
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


async def sandbox_call(
    http: httpx.AsyncClient, stack: Stack, path: str, body: object = None
) -> Any:
    """GET (no body) or POST a sandbox test endpoint; fails the test on a refusal."""
    if body is None:
        response = await http.get(stack.sandbox_url + path)
    else:
        response = await http.post(stack.sandbox_url + path, json=body)
    payload = response.json()
    assert payload["ok"], payload
    return payload


def outreach_workspace(sessions: list[str], chat: str, outreach: str, *, more: str = "") -> str:
    """The outreach tiers' workspace: ``sessions`` for parser-1, manager-1 and manager-2 (as
    ``boot_outreach_mode`` makes them), keyword sets web-dev (разработчик, developer) and sites
    (сайт, website), and the campaign "web" on ``@chat`` whose ``outreach`` block is given
    (YAML lines indented by six spaces); ``more`` adds campaigns after it."""
    return f"""\
accounts:
  - {{name: parser-1, role: parser, session: "{sessions[0]}"}}
  - {{name: manager-1, role: manager, session: "{sessions[1]}"}}
  - {{name: manager-2, role: manager, session: "{sessions[2]}"}}
keyword_sets:
  - {{name: web-dev, keywords: [разработчик, developer]}}
  - {{name: sites, keywords: [сайт, website]}}
campaigns:
  - name: web
    keyword_sets: [web-dev]
    chats: ["@{chat}"]
    parser_accounts: [parser-1]
    manager_accounts: [manager-1, manager-2]
    outreach:
{outreach.rstrip()}
{more}"""


async def boot_outreach_mode(
    stack: Stack, http: httpx.AsyncClient, chat: str, workspace: Callable[[list[str]], str]
) -> list[int]:
    """Sandbox with ``chat``, one parser and two manager accounts (sessions passed to
    ``workspace`` in that order), the LLM served by the sandbox, the simulated users' own DM
    answers off (tests script the replies); parser, manager, admin and a worker per account
    running. Returns the accounts' Telegram user ids."""
    stack.start("sandbox", "sandbox")  # it needs no database: it starts while the schema is made
    await stack.migrate()
    http.headers["Authorization"] = f"Bearer {await stack.add_user('alice', 'operator')}"
    stack.env["COOLTHING_LLM_BASE_URL"] = f"{stack.sandbox_url}/v1"
    stack.env["COOLTHING_LLM_API_KEY"] = "sandbox-key"
    await wait_for(
        lambda: sandbox_call(http, stack, "/_sandbox/health"), seconds=20, what="sandbox"
    )
    response = await http.put(f"{stack.sandbox_url}/_sandbox/responder", json={"enabled": False})
    assert response.json()["ok"]
    await sandbox_call(http, stack, "/_sandbox/chats", {"ref": chat, "title": chat})
    names = ["Parser", "Manager1", "Manager2"]
    created = [
        await sandbox_call(http, stack, "/_sandbox/accounts", {"first_name": name})
        for name in names
    ]
    (stack.logs / "ws.yaml").write_text(workspace([a["session"] for a in created]), "utf-8")
    await stack.apply_workspace(stack.logs / "ws.yaml")
    for name, args in {
        "parser": ["parser"],
        "manager": ["manager"],
        "admin": ["admin"],
        **{f"bots-{n}": ["bots", "--account", str(n)] for n in (1, 2, 3)},
    }.items():
        stack.start(name, *args)

    async def parser_listens() -> bool:
        listed = (await sandbox_call(http, stack, "/_sandbox/chats"))["chats"]
        return any(c["members"] for c in listed if c["ref"] == chat)

    await wait_for(parser_listens, seconds=60, what="the parser account to join the chat")
    await wait_for(lambda: http.get(f"{stack.api_url}/healthz"), seconds=30, what="the admin API")
    # The queues were deleted for a clean start: a lead found before the manager subscribes
    # would have nowhere to go.
    await wait_for(
        lambda: consuming(stack.env["COOLTHING_BUS_URL"], ["manager.leads", "manager.replies"]),
        seconds=30,
        what="the manager to consume its queues",
    )
    return [int(a["user_id"]) for a in created]


async def consuming(amqp_url: str, queues: list[str]) -> bool:
    """Every queue exists and has a consumer."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        for name in queues:
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(name, passive=True)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                return False
            if not queue.declaration_result.consumer_count:
                return False
    return True
