"""Integration-tier fixtures and markers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sandbox.bootstrap import RunningSandbox, serve


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes tens of seconds (restarts a service)")


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    """A fresh sandbox Telegram on a free loopback port (a test module may override it)."""
    running = await serve("127.0.0.1", 0)
    yield running
    await running.stop()
