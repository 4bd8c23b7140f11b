"""Shared fixtures: where the real PostgreSQL and RabbitMQ live (`make test` starts them)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from sqlalchemy import text

from admin.access import users
from admin.app import create_app
from core.access import Role
from core.bus import Bus
from core.db import Database
from core.db.migrate import upgrade
from core.security import SecretBox
from core.settings import Settings


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


PASSWORD = "correct horse battery staple"


async def add_people(db: Database) -> dict[Role, str]:
    """One user per role (login = the role's name, password ``PASSWORD``) and an API token each."""
    tokens: dict[Role, str] = {}
    async with db.transaction() as session:
        for role in Role:
            user = await users.create_user(
                session=session, login=role.value, password=PASSWORD, role=role
            )
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
