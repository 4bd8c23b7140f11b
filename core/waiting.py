"""Waiting with a timeout without losing a cancellation.

Python 3.11's ``asyncio.wait_for`` returns the result when a cancellation arrives just as the
awaited thing completes (CPython gh-86296): a loop woken at that moment never sees that it was
cancelled, goes round again, and whoever awaits it after ``cancel()`` waits forever (seen as a
300 s hang in a test's teardown: the notifier's courier, woken as it was stopped).
``asyncio.timeout`` counts cancellations and has no such gap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable


async def wait_at_most(awaitable: Awaitable[object], seconds: float) -> bool:
    """Await ``awaitable`` for at most ``seconds``; True if it completed, False on the timeout
    (it is then cancelled, as with ``wait_for``). A cancellation of the caller always raises."""
    try:
        async with asyncio.timeout(seconds):
            await awaitable
    except TimeoutError:
        return False
    return True
