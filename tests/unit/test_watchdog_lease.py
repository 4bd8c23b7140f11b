"""One lease holder at a time, on SQLite (the demo's database) — PostgreSQL is covered by the
integration tests with two watchdogs."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.db import Database
from watchdog.lease import Lease


@pytest.fixture
async def db(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Database]:
    shutil.copyfile(sqlite_template, tmp_path / "lease.db")
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'lease.db'}")
    yield database
    await database.close()


def _lease(db: Database, holder: str, ttl: float = 0.5) -> Lease:
    return Lease(db, holder=holder, ttl=ttl, renew_every=ttl / 3)


async def test_only_one_watchdog_holds_the_lease_and_renewing_keeps_it(db: Database) -> None:
    first, second = _lease(db, "a"), _lease(db, "b")
    assert await first.try_hold()
    assert not await second.try_hold()
    for _ in range(3):  # renewed within the ttl: still the first's, past the first expiry
        await asyncio.sleep(0.2)
        assert await first.try_hold()
        assert not await second.try_hold()


async def test_an_expired_lease_passes_to_the_other_and_the_old_holder_knows(db: Database) -> None:
    first, second = _lease(db, "a"), _lease(db, "b")
    assert await first.try_hold()
    await asyncio.sleep(0.6)
    assert not first.held  # it stopped trusting its lease no later than it expired
    assert await second.try_hold()
    assert not await first.try_hold()


async def test_a_released_lease_is_taken_at_once(db: Database) -> None:
    first, second = _lease(db, "a", ttl=60), _lease(db, "b", ttl=60)
    assert await first.try_hold()
    await first.release()
    assert not first.held
    assert await second.try_hold()
