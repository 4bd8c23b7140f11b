"""Shared fixtures of the unit tier (nothing here needs a service)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from sandbox.bootstrap import RunningSandbox, serve


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client of an in-process sandbox on a free loopback port."""
    running: RunningSandbox = await serve("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession(base_url=running.url) as session:
            yield session
    finally:
        await running.stop()
