"""Workers as local processes forked from a warm fork server (``fork_server.py``).

The same contract as the exec runtime (``local.py``): a worker per account in its own process
group, its output's last lines in its exit report, exit codes as a shell tells them, and no
worker outliving the watchdog (the server dies with the watchdog, the workers with the server).
What changes is the cost of a start: a fork of a parent that already imported everything, not a
new interpreter importing it all again (~2 s, ~60 MB unshared per worker).

The runtime talks to the server over a SOCK_SEQPACKET pair (``fork_protocol.py``); each worker's
stdout and stderr are a pipe the runtime creates and hands to the server with the request. The
server reaps its children and reports their exit codes. If the server dies, its children get
their parent-death signal; the runtime kills what is left of them, reports their ends (exit code
unknown: a crash for the reconciler) and starts a new server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from core.waiting import wait_at_most
from watchdog.runtimes.base import INSTANCE_ENV, RunningWorker, WorkerExit, WorkerRuntime
from watchdog.runtimes.fork_protocol import (
    MAX_MESSAGE,
    REPLY,
    Exited,
    Failed,
    Ready,
    Reply,
    Spawn,
)
from watchdog.runtimes.local import WORKER_ENV, die_with_parent, keep_lines

log = logging.getLogger(__name__)

SERVER_START_TIMEOUT = 120.0  # the imports, on a machine busy starting everything else
SPAWN_TIMEOUT = 30.0
OUTPUT_AFTER_EXIT = 2.0  # a grandchild may hold the pipe open: the tail is what came by then


@dataclass
class _Server:
    process: asyncio.subprocess.Process
    control: socket.socket
    ready: asyncio.Future[None]
    spawns: dict[str, asyncio.Future[int]] = field(default_factory=dict)  # instance → pid
    reader: asyncio.Task[None] | None = None


@dataclass
class _Child:
    worker: RunningWorker
    lines: deque[str]
    ended: asyncio.Future[int | None]  # the exit code the server reported; None: unknown
    pid: int = 0
    watcher: asyncio.Task[None] | None = None


class ForkedRuntime(WorkerRuntime):
    def __init__(
        self, *, env: Mapping[str, str] | None = None, log_lines: int = 30, grace: float = 15.0
    ) -> None:
        """``env``: the workers' environment (this process's by default), given to the server;
        ``grace``: how long the server waits between SIGTERM and SIGKILL when it stops the
        workers itself (the watchdog died or closed the runtime)."""
        super().__init__()
        self._grace = grace
        self._env = dict(os.environ if env is None else env)
        self._log_lines = log_lines
        self._children: dict[int, _Child] = {}  # account → child
        self._by_instance: dict[str, _Child] = {}
        self._server: _Server | None = None
        self._server_lock = asyncio.Lock()
        self._closing = False
        self._warming: asyncio.Task[None] | None = None

    @property
    def server_pid(self) -> int | None:
        return self._server.process.pid if self._server is not None else None

    async def open(self) -> None:
        """Start the server now, so the first workers do not wait for its imports."""
        self._warming = asyncio.create_task(self._warm(), name="fork-server-warm")

    async def _warm(self) -> None:
        try:
            await self._ready_server()
        except Exception as exc:  # the first launch tries again and reports it as its failure
            log.error("fork server did not start: %s", exc)

    async def _ready_server(self) -> _Server:
        async with self._server_lock:
            if self._closing:
                raise RuntimeError("the runtime is closed")
            server = self._server
            if server is None or server.ready.done() and server.ready.exception() is not None:
                server = self._server = await self._start_server()
        await asyncio.wait_for(asyncio.shield(server.ready), SERVER_START_TIMEOUT)
        return server

    async def _start_server(self) -> _Server:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "watchdog.runtimes.fork_server", str(theirs.fileno()), str(self._grace)),
                env=self._env,
                stdin=asyncio.subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                preexec_fn=die_with_parent,  # only a prctl: safe between fork and exec
            )
        finally:
            theirs.close()
        ours.setblocking(False)
        server = _Server(process, ours, asyncio.get_running_loop().create_future())
        server.reader = asyncio.create_task(self._read(server), name="fork-server-replies")
        log.info("fork server started (pid %s)", process.pid)
        return server

    async def _read(self, server: _Server) -> None:
        loop = asyncio.get_running_loop()
        try:
            while data := await loop.sock_recv(server.control, MAX_MESSAGE):
                self._take(server, REPLY.validate_json(data))
        except (OSError, ValueError) as exc:
            log.error("fork server's replies unreadable: %s", exc)
        finally:
            await self._server_gone(server)

    def _take(self, server: _Server, reply: Reply) -> None:
        if isinstance(reply, Ready):
            if not server.ready.done():
                server.ready.set_result(None)
        elif isinstance(reply, Exited):
            child = self._by_instance.get(reply.instance)
            if child is not None and not child.ended.done():
                child.ended.set_result(reply.code)
        elif isinstance(reply, Failed):
            waiting = server.spawns.pop(reply.instance, None)
            if waiting is not None and not waiting.done():
                waiting.set_exception(RuntimeError(f"fork failed: {reply.error}"))
        else:  # Spawned
            waiting = server.spawns.pop(reply.instance, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(reply.pid)

    async def _server_gone(self, server: _Server) -> None:
        """Its children got their parent-death signal; make sure they are gone, report them
        ended (how, nobody can tell now), and start a new server unless we are closing."""
        server.control.close()
        lost = RuntimeError("the fork server is gone")
        waits: list[asyncio.Future[None] | asyncio.Future[int]] = [server.ready]
        for waiting in [*waits, *server.spawns.values()]:
            if not waiting.done():
                waiting.set_exception(lost)
                waiting.exception()  # retrieved: nobody may be waiting for it
        server.spawns.clear()
        with contextlib.suppress(ProcessLookupError):
            server.process.kill()
        await server.process.wait()
        orphans = [c for c in self._children.values() if not c.ended.done() and c.pid]
        if orphans:
            log.error("fork server died: ending its %s workers", len(orphans))
        for child in orphans:
            _signal(child.pid, signal.SIGKILL)
        await asyncio.gather(*(_until_gone(c.pid) for c in orphans))
        for child in orphans:
            if not child.ended.done():
                child.ended.set_result(None)
        if self._server is server:
            self._server = None
            if not self._closing:
                self._warming = asyncio.create_task(self._warm(), name="fork-server-warm")

    async def launch(self, account_id: int, instance: str) -> RunningWorker:
        server = await self._ready_server()
        loop = asyncio.get_running_loop()
        worker = RunningWorker(account_id, instance, "", datetime.now(UTC))
        child = _Child(worker, deque(maxlen=max(self._log_lines, 1)), loop.create_future())
        reading, writing = os.pipe()
        try:
            spawned: asyncio.Future[int] = loop.create_future()
            server.spawns[instance] = spawned
            self._by_instance[instance] = child
            env = {**WORKER_ENV, INSTANCE_ENV: instance}
            request = Spawn(account=account_id, instance=instance, env=env)
            await _send(server.control, request.model_dump_json().encode(), writing)
        except BaseException:
            os.close(reading)
            self._by_instance.pop(instance, None)
            server.spawns.pop(instance, None)
            raise
        finally:
            os.close(writing)
        try:
            child.pid = await asyncio.wait_for(spawned, SPAWN_TIMEOUT)
        except BaseException:
            os.close(reading)
            self._by_instance.pop(instance, None)
            raise
        child.worker = worker = RunningWorker(
            account_id, instance, str(child.pid), worker.started_at
        )
        self._children[account_id] = child
        child.watcher = asyncio.create_task(
            self._watch(child, reading), name=f"worker-{account_id}"
        )
        log.info("worker of account %s forked (pid %s)", account_id, child.pid)
        return worker

    async def _watch(self, child: _Child, output: int) -> None:
        """Keep the last lines of the worker's output; report its end."""
        reading = asyncio.create_task(self._lines(child, output))
        code = await asyncio.shield(child.ended)
        if not await wait_at_most(asyncio.shield(reading), OUTPUT_AFTER_EXIT):
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
        self._by_instance.pop(child.worker.instance, None)
        if self._children.get(child.worker.account_id) is child:
            del self._children[child.worker.account_id]
        log.info("worker of account %s exited with %s", child.worker.account_id, code)
        tail = "\n".join(list(child.lines)[-self._log_lines :]) if self._log_lines else ""
        self.report_exit(
            WorkerExit(child.worker.account_id, child.worker.instance, code, False, tail)
        )

    @staticmethod
    async def _lines(child: _Child, output: int) -> None:
        loop = asyncio.get_running_loop()
        stream = asyncio.StreamReader()
        pipe = os.fdopen(output, "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stream), pipe
        )
        try:
            await keep_lines(stream, child.lines)
        finally:
            transport.close()

    async def running(self) -> dict[int, RunningWorker]:
        return {account_id: child.worker for account_id, child in self._children.items()}

    async def stop(self, account_id: int, *, grace: float) -> None:
        child = self._children.get(account_id)
        if child is None or child.watcher is None:
            return
        _signal(child.pid, signal.SIGTERM)
        if not await wait_at_most(asyncio.shield(child.watcher), grace):
            log.warning("worker of account %s ignored SIGTERM for %s s", account_id, grace)
            _signal(child.pid, signal.SIGKILL)
            await child.watcher

    async def kill(self, account_id: int) -> None:
        child = self._children.get(account_id)
        if child is not None and child.watcher is not None:
            _signal(child.pid, signal.SIGKILL)
            await child.watcher

    async def abandon(self, *, grace: float) -> None:
        await asyncio.gather(*(self.stop(a, grace=grace) for a in list(self._children)))

    async def close(self) -> None:
        self._closing = True  # no new server from here on
        await self.abandon(grace=0)
        # A server being started is let finish and then shut down: cancelled mid-way, its
        # process could be left behind, known to nobody.
        warming = self._warming
        if warming is not None and not await wait_at_most(asyncio.shield(warming), 10.0):
            warming.cancel()
            await asyncio.gather(warming, return_exceptions=True)
        server, self._server = self._server, None
        if server is not None and server.reader is not None:
            server.control.shutdown(socket.SHUT_RDWR)  # the server's next read ends it
            if not await wait_at_most(asyncio.shield(server.process.wait()), 5.0):
                server.process.kill()
            await server.reader


def _signal(pid: int, sig: signal.Signals) -> None:
    """To the worker's process group: whatever it spawned goes with it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def _send(control: socket.socket, data: bytes, fd: int) -> None:
    while True:
        try:
            socket.send_fds(control, [data], [fd])
            return
        except BlockingIOError:  # the server is busy forking: its queue is full for now
            await asyncio.sleep(0.01)


async def _until_gone(pid: int, *, seconds: float = 10.0) -> None:
    """An orphan is reaped by whoever inherits it, maybe never: a zombie counts as gone."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        if _gone(pid):
            return
        await asyncio.sleep(0.02)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")
