"""A private PostgreSQL cluster and a private RabbitMQ node for one run, so a run can restart
them without disturbing anything else on the machine (other test suites, other benchmarks).

PostgreSQL: ``initdb`` as the ``postgres`` user into a temporary directory, its own port, trust
authentication on 127.0.0.1 only, a database and role ``coolthing``. ``fsync`` is off: the data
lives for one run, and an immediate stop is a crash of the server, not of the machine, so its
write-ahead log is still in the page cache and recovery replays it.

RabbitMQ: its own node name, AMQP and distribution ports, Mnesia and log directories in a
temporary directory, no plugins (no management, no Prometheus), run as the ``rabbitmq`` user
with that user's Erlang cookie so ``rabbitmqctl -n NODE`` reaches it. Quorum queues work on a
single node. A restart is ``rabbitmqctl stop`` (the whole Erlang node) and a fresh start on the
same directories, so durable queues and their messages come back.

Both need root (``runuser``) and Debian's packages; ``open_private_services`` starts both and
removes them afterwards, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql")
RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
RABBIT_HOME = "/var/lib/rabbitmq"  # where the rabbitmq user's Erlang cookie is
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _run(*argv: str, seconds: float = 60.0) -> str:
    """Run a command; its output, or RuntimeError with what it said."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), seconds)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {process.returncode}: {out.decode()[-2000:]}")
    return out.decode()


def _pg_bin(tool: str) -> str:
    newest = sorted(PG_BIN.iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else 0)[-1]
    return str(newest / "bin" / tool)


@dataclass
class PrivatePostgres:
    base: Path
    port: int

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://coolthing:coolthing@127.0.0.1:{self.port}/coolthing"

    async def _as_postgres(self, *argv: str, seconds: float = 60.0) -> str:
        return await _run("runuser", "-u", "postgres", "--", *argv, seconds=seconds)

    async def create(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.base, "postgres")
        await self._as_postgres(
            _pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        settings = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.base}'",
            "max_connections": "200",
            "fsync": "off",
            "full_page_writes": "off",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        await self.start()
        await self._psql("create role coolthing login password 'coolthing'")
        await self._psql("create database coolthing owner coolthing")

    async def _psql(self, sql: str) -> None:
        await self._as_postgres(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-v", "ON_ERROR_STOP=1", "-qc", sql
        )

    async def start(self) -> None:
        log = str(self.base / "server.log")
        await self._as_postgres(
            _pg_bin("pg_ctl"), "-D", str(self.data), "-l", log, "-w", "-t", "60", "start"
        )

    async def stop(self, mode: str = "fast") -> None:
        """``fast``: clients are disconnected and the server shuts down cleanly; ``immediate``:
        every server process is killed at once (recovery on the next start)."""
        await self._as_postgres(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    async def remove(self) -> None:
        with contextlib.suppress(RuntimeError, OSError, TimeoutError):
            await self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


@dataclass
class PrivateRabbit:
    base: Path
    node: str
    port: int
    dist_port: int

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/coolthing"

    def _env(self) -> list[str]:
        return [
            f"HOME={RABBIT_HOME}",
            f"RABBITMQ_NODENAME={self.node}",
            f"RABBITMQ_NODE_PORT={self.port}",
            f"RABBITMQ_DIST_PORT={self.dist_port}",
            f"RABBITMQ_MNESIA_BASE={self.base / 'mnesia'}",
            f"RABBITMQ_LOG_BASE={self.base / 'log'}",
            f"RABBITMQ_ENABLED_PLUGINS_FILE={self.base / 'enabled_plugins'}",
            f"RABBITMQ_PID_FILE={self.base / 'rabbit.pid'}",
            "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
        ]

    async def _as_rabbitmq(self, tool: str, *args: str, seconds: float = 60.0) -> str:
        argv = ["runuser", "-u", "rabbitmq", "--", "env", *self._env(), str(RABBIT_BIN / tool)]
        return await _run(*argv, *args, seconds=seconds)

    async def ctl(self, *args: str, seconds: float = 60.0) -> str:
        return await self._as_rabbitmq("rabbitmqctl", "-q", "-n", self.node, *args, seconds=seconds)

    async def create(self) -> None:
        for sub in ("mnesia", "log"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        (self.base / "enabled_plugins").write_text("[].\n")
        for path in (self.base, *self.base.rglob("*")):
            shutil.chown(path, "rabbitmq", "rabbitmq")
        await self.start()
        await self.ctl("add_vhost", "coolthing")
        await self.ctl("set_permissions", "-p", "coolthing", "guest", ".*", ".*", ".*")

    async def start(self) -> None:
        await self._as_rabbitmq("rabbitmq-server", "-detached")
        # await_startup gives up at once on a node not yet registered with epmd: poll.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while True:
            try:
                await self.ctl("await_startup", seconds=30)
                return
            except RuntimeError:
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def stop(self) -> None:
        """The whole Erlang node stops (every connection drops); durable data stays on disk."""
        await self.ctl("stop")

    async def remove(self) -> None:
        with contextlib.suppress(RuntimeError, OSError, TimeoutError):
            await self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@dataclass
class PrivateServices:
    postgres: PrivatePostgres
    rabbit: PrivateRabbit


@contextlib.asynccontextmanager
async def open_private_postgres() -> AsyncIterator[PrivatePostgres]:
    """A private PostgreSQL alone, up, for the ``with`` block; removed after."""
    base = Path(tempfile.mkdtemp(prefix="coolthing-private-"))
    os.chmod(base, 0o755)  # noqa: S103 - the postgres user must reach its directory
    postgres = PrivatePostgres(base / "postgres", free_port())
    try:
        await postgres.create()
        yield postgres
    finally:
        await postgres.remove()
        shutil.rmtree(base, ignore_errors=True)


@contextlib.asynccontextmanager
async def open_private_rabbit() -> AsyncIterator[PrivateRabbit]:
    """A private RabbitMQ node alone, up, for the ``with`` block; removed after."""
    base = Path(tempfile.mkdtemp(prefix="coolthing-private-"))
    os.chmod(base, 0o755)  # noqa: S103 - the rabbitmq user must reach its directory
    host = socket.gethostname().split(".")[0]
    node = f"chaos_{os.getpid()}_{base.name.rsplit('-', 1)[-1]}@{host}"
    rabbit = PrivateRabbit(base / "rabbitmq", node, free_port(), free_port())
    try:
        await rabbit.create()
        yield rabbit
    finally:
        await rabbit.remove()
        shutil.rmtree(base, ignore_errors=True)


@contextlib.asynccontextmanager
async def open_private_services(
    *, pg_port: int | None = None, amqp_port: int | None = None
) -> AsyncIterator[PrivateServices]:
    """A private PostgreSQL and RabbitMQ, up, for the ``with`` block; removed after."""
    base = Path(tempfile.mkdtemp(prefix="coolthing-private-"))
    os.chmod(base, 0o755)  # noqa: S103 - the postgres and rabbitmq users must reach their dirs
    tag = f"{os.getpid()}_{base.name.rsplit('-', 1)[-1]}"
    host = socket.gethostname().split(".")[0]
    postgres = PrivatePostgres(base / "postgres", pg_port or free_port())
    rabbit = PrivateRabbit(
        base / "rabbitmq", f"chaos_{tag}@{host}", amqp_port or free_port(), free_port()
    )
    try:
        await asyncio.gather(postgres.create(), rabbit.create())
        yield PrivateServices(postgres, rabbit)
    finally:
        await asyncio.gather(postgres.remove(), rabbit.remove())
        shutil.rmtree(base, ignore_errors=True)
