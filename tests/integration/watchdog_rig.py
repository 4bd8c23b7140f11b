"""A watchdog on the real database with real `coolthing run bots` workers against the sandbox
Telegram, for the local and the Docker runtime tests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import select, update

from core.db import Database
from core.db.models import Account, OutboxMessage
from core.db.watchdog_models import WorkerHeartbeat, WorkerState
from core.security import SecretBox
from core.settings import Settings
from sandbox.bootstrap import RunningSandbox
from tests.conftest import empty_postgres, eventually
from watchdog.bootstrap import Watchdog, build_watchdog
from watchdog.runtimes.base import WorkerRuntime

# Small times: a crash loop quarantines in seconds, a silent worker is killed after 10 s (a
# worker's start, imports included, must beat within it on a busy 2-core machine; the lease
# and the stop grace leave room for the same).
FAST = {
    "watchdog_reconcile_interval": 0.3,
    "watchdog_lease_ttl": 5.0,
    "watchdog_lease_renew": 0.5,
    "watchdog_backoff_base": 1.0,
    "watchdog_backoff_cap": 4.0,
    "watchdog_backoff_reset": 60.0,
    "watchdog_quarantine_crashes": 3,
    "watchdog_quarantine_window": 60.0,
    "watchdog_heartbeat_timeout": 10.0,
    "watchdog_start_timeout": 20.0,
    "watchdog_stop_grace": 10.0,
}


@dataclass
class Rig:
    db: Database
    sandbox: RunningSandbox
    box: SecretBox
    worker_env: dict[str, str]
    make_runtime: Callable[[], WorkerRuntime]
    watchdogs: list[Watchdog] = field(default_factory=list)
    sandbox_users: dict[int, int] = field(default_factory=dict)  # account id → Telegram user

    async def account(self, name: str, *, status: str = "active", garbage: bool = False) -> int:
        """An account with a live sandbox session (``garbage``: a secret no key opens, so its
        worker crashes at start); its id."""
        made, session = self.sandbox.world.add_account(name.title())
        secret = "not-a-fernet-token" if garbage else self.box.encrypt(session)
        async with self.db.transaction() as s:
            account = Account(name=name, role="parser", status=status, session_secret=secret)
            s.add(account)
            await s.flush()
            self.sandbox_users[account.id] = made.user.id
            return account.id

    async def watchdog(self, holder: str, **settings: Any) -> Watchdog:
        merged = {**FAST, **settings}
        watchdog = build_watchdog(Settings(**merged), self.db, self.make_runtime(), holder=holder)
        await watchdog.start()
        self.watchdogs.append(watchdog)
        return watchdog

    async def set_status(self, account_id: int, status: str) -> None:
        async with self.db.transaction() as s:
            await s.execute(update(Account).where(Account.id == account_id).values(status=status))

    async def state(self, account_id: int) -> WorkerState | None:
        async with self.db.session() as s:
            return await s.get(WorkerState, account_id)

    async def beat(self, account_id: int) -> WorkerHeartbeat | None:
        async with self.db.session() as s:
            return await s.get(WorkerHeartbeat, account_id)

    async def account_row(self, account_id: int) -> Account | None:
        async with self.db.session() as s:
            return await s.get(Account, account_id)

    async def outbox(self, routing_key: str) -> list[str]:
        async with self.db.session() as s:
            rows = await s.scalars(
                select(OutboxMessage.body).where(OutboxMessage.routing_key == routing_key)
            )
            return list(rows)

    async def until_state(
        self, account_id: int, check: Callable[[WorkerState], bool], *, seconds: float, what: str
    ) -> WorkerState:
        async def probe() -> WorkerState | None:
            state = await self.state(account_id)
            return state if state is not None and check(state) else None

        return await eventually(probe, seconds=seconds, what=what)


def worker_env(postgres_url: str, amqp_url: str, sandbox_url: str, key: bytes) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOLTHING_")}
    return env | {
        "COOLTHING_ENV": "test",
        "COOLTHING_DATABASE_URL": postgres_url,
        "COOLTHING_BUS_URL": amqp_url,
        "COOLTHING_SECRET_KEY": key.decode(),
        "COOLTHING_TELEGRAM_BACKEND": "sandbox",
        "COOLTHING_SANDBOX_URL": sandbox_url,
        "COOLTHING_JOIN_INTERVAL": "0",
        "COOLTHING_WATCHDOG_HEARTBEAT_INTERVAL": "0.5",
        "COOLTHING_LOG_LEVEL": "INFO",
    }


async def open_rig(
    postgres_url: str,
    amqp_url: str,
    sandbox: RunningSandbox,
    runtime: Callable[[dict[str, str]], WorkerRuntime],
) -> AsyncIterator[Rig]:
    db = Database(postgres_url)
    await empty_postgres(db)
    key = Fernet.generate_key()
    env = worker_env(postgres_url, amqp_url, sandbox.url, key)
    rig = Rig(db, sandbox, SecretBox(key), env, lambda: runtime(env))
    try:
        yield rig
    finally:
        for watchdog in rig.watchdogs:
            await watchdog.stop()
        await db.close()


async def sampled(probe: Callable[[], int], seconds: float) -> int:
    """The highest value ``probe`` gave while sampled every 50 ms for ``seconds``."""
    highest = 0
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        highest = max(highest, probe())
        await asyncio.sleep(0.05)
    return highest
