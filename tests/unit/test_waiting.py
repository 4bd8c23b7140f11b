"""A loop that waits for a wake-up with a timeout must stop when it is cancelled, even when the
wake-up and the cancellation arrive together (Python 3.11's wait_for loses that cancellation)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from core.waiting import wait_at_most

Wait = Callable[[Awaitable[object], float], Awaitable[object]]


async def _loop_woken_as_it_is_cancelled(wait: Wait) -> asyncio.Task[None]:
    wake = asyncio.Event()

    async def loop() -> None:
        while True:
            await wait(wake.wait(), 30)
            wake.clear()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)  # the loop now waits
    wake.set()
    task.cancel()
    await asyncio.sleep(0.05)
    return task


async def test_a_cancellation_that_meets_a_wake_up_stops_the_loop() -> None:
    task = await _loop_woken_as_it_is_cancelled(wait_at_most)
    assert task.done()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_asyncio_wait_for_loses_that_cancellation_on_this_python() -> None:
    """Why core.waiting exists: if this starts failing, wait_for was fixed (Python 3.12+)."""
    task = await _loop_woken_as_it_is_cancelled(asyncio.wait_for)
    try:
        assert not task.done(), "wait_for kept the cancellation: core.waiting may go"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_it_says_whether_the_wait_ended_in_time() -> None:
    done = asyncio.Event()
    done.set()
    assert await wait_at_most(done.wait(), 1) is True
    assert await wait_at_most(asyncio.Event().wait(), 0.01) is False
