"""The baseline: the minimal direct path, on its own thread of the bench's process.

A ``SandboxAccountClient`` per listening account reads the sandbox → ``Matcher`` →
``record_hits`` in a transaction, on a thread with its own event loop: the thread's CPU
(``/proc/self/task/<tid>/stat``) is then the direct path's alone, without the bench's driver
(posting, polling for hits, the oracle), which the multi-process run does not count as ours
either. No bus, no worker processes, no at-least-once hand-off.
"""

from __future__ import annotations

import asyncio
import threading

from bots.sandbox_client import SandboxAccountClient
from core.db import Database
from parser.leads import record_hits
from parser.rules import CompiledRules, load_rules

READY_TIMEOUT = 30.0


async def direct_reader(
    client: SandboxAccountClient, db: Database, rules: CompiledRules, refs: dict[int, str]
) -> None:
    """Read one account's updates and record its hits, one transaction per matching message."""
    async for message in client.incoming():
        ref = refs.get(message.chat_id)
        chat_id = rules.chat_ids.get(ref or "")
        if message.is_private or chat_id is None:
            continue
        hits = rules.matcher.match(message.text, chat_id)
        if hits:
            async with db.transaction() as session:
                payload = message.as_event(account_id=0, chat_ref=ref)
                await record_hits(session, payload, hits, correlation_id=None)


class DirectThread:
    """The direct readers on a thread; ``start`` returns once they listen, ``stop`` ends them."""

    def __init__(
        self, db_url: str, sandbox_url: str, sessions: list[str], refs: dict[int, str]
    ) -> None:
        self.db_url = db_url
        self.sandbox_url = sandbox_url
        self.sessions = sessions
        self.refs = refs
        self.tid = 0  # the thread's native id, for its CPU
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="direct-path", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the bench's loop by start/stop
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self.tid = threading.get_native_id()
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        db = Database(self.db_url)
        clients = [
            SandboxAccountClient(self.sandbox_url, s, poll_timeout=1.0) for s in self.sessions
        ]
        tasks: list[asyncio.Task[None]] = []
        try:
            async with db.session() as session:
                rules = await load_rules(session)
            for client in clients:
                await client.connect()
            tasks = [asyncio.create_task(direct_reader(c, db, rules, self.refs)) for c in clients]
            self._ready.set()
            stopped = asyncio.create_task(self._stop.wait())
            done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopped:
                    task.result()  # a reader that ended early: say why
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for client in clients:
                await client.disconnect()
            await db.close()

    async def start(self) -> None:
        self._thread.start()
        if not await asyncio.to_thread(self._ready.wait, READY_TIMEOUT):
            raise TimeoutError("the direct path did not start")
        self.check()

    def check(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"the direct path failed: {self._error!r}") from self._error

    async def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        await asyncio.to_thread(self._thread.join, 30)
        self.check()
