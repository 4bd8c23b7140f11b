"""Shared fixtures: where the real PostgreSQL and RabbitMQ live (`make test` starts them)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from core.db import Database
from core.db.migrate import upgrade
from core.security import SecretBox


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return os.environ.get(
        "COOLTHING_TEST_DATABASE_URL",
        "postgresql+asyncpg://coolthing:coolthing@127.0.0.1:5432/coolthing_test",
    )


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return os.environ.get(
        "COOLTHING_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/coolthing_test"
    )


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[Database]:
    """A freshly migrated database: a SQLite file, and the real PostgreSQL with an empty schema."""
    if request.param == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    else:
        await reset_postgres(postgres_url)
        db = Database(postgres_url)
    await upgrade(db)
    yield db
    await db.close()


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
