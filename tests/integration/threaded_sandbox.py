"""A sandbox Telegram on its own event loop in a thread, for tests whose code is synchronous (the
API contract test drives the admin service with schemathesis from the test's thread)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sandbox.bootstrap import serve


@contextmanager
def threaded_sandbox() -> Iterator[str]:
    """Serve a fresh sandbox on a free loopback port; yields its URL, stops it on exit."""
    loop = asyncio.new_event_loop()
    running = loop.run_until_complete(serve("127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, name="sandbox", daemon=True)
    thread.start()
    try:
        yield running.url
    finally:
        asyncio.run_coroutine_threadsafe(running.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
