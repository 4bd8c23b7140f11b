"""Engine and unit of work. Nothing connects at import time; the caller owns every transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


class Database:
    """One engine per process; ``transaction()`` is the unit of work, ``session()`` is for reads."""

    def __init__(
        self, url: str, *, echo: bool = False, pool_size: int = 20, max_overflow: int = 5
    ) -> None:
        self.url = url
        self.engine = _make_engine(url, echo=echo, pool_size=pool_size, max_overflow=max_overflow)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Commit when the block ends normally, roll back when it raises."""
        async with self._sessions.begin() as session:
            yield session

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    async def close(self) -> None:
        await self.engine.dispose()


IDLE_IN_TRANSACTION_MS = 60_000


def _make_engine(url: str, *, echo: bool, pool_size: int, max_overflow: int) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # Connections beyond the pool are opened and closed per burst (a TLS handshake each with
        # the default sslmode=prefer), so the pool is sized for a burst and overflow stays small.
        return create_async_engine(
            url,
            echo=echo,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=True,
            hide_parameters=True,  # an error's text must not carry lead texts into the logs
            connect_args=_postgres_settings(parsed.get_driver_name()),
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30}, hide_parameters=True)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _postgres_settings(driver: str) -> dict[str, Any]:
    """A transaction left open (a task cancelled mid-way whose connection never went back)
    must not hold its row locks forever: PostgreSQL ends such a session after a minute."""
    if driver != "asyncpg":
        return {}
    return {"server_settings": {"idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_MS)}}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the panel read while services write; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
