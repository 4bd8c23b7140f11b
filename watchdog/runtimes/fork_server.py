"""The fork server: a warm parent that forks one account worker per request.

``python -m watchdog.runtimes.fork_server FD GRACE`` is started by the forked runtime with its
end of a SOCK_SEQPACKET pair as FD. It imports everything a worker runs, freezes those objects
out of the garbage collector's reach (``gc.freeze``: collections in the children would
otherwise touch, and so copy, every shared page), tells the runtime it is ready, then serves
spawn requests. A child is ``coolthing run bots --account ID`` without the interpreter's start
and the ~2 s of imports: memory pages stay shared with this parent until written, and a restart
is a fork.

Deliberately plain and synchronous: no event loop, no threads, no connection to the database or
the bus before a fork, so a child inherits no loop state, no lock held by another thread and no
socket it would share with its siblings. No worker outlives the watchdog: when the watchdog dies
(the server's parent-death signal is SIGTERM) or closes its end, the server stops its children
as the watchdog would — SIGTERM, SIGKILL after GRACE seconds (a worker caught mid-start may never
finish stopping) — and only then exits; if the server itself is killed, its children get SIGKILL
as their parent-death signal.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import random
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Collection, Iterator
from pathlib import Path

from watchdog.runtimes.fork_protocol import (
    MAX_MESSAGE,
    Exited,
    Failed,
    Ready,
    Spawn,
    Spawned,
    exit_code,
)
from watchdog.runtimes.local import die_with_parent

# What `coolthing run bots` imports on its way to a running worker (the Telegram adapter is
# added by the settings' backend); anything missed is imported by each child itself: slower
# and unshared, never wrong.
PRELOAD = (
    "coolthing.cli",
    "coolthing.services",
    "core.platform",
    "core.bus.rabbit",
    "core.bus.factory",
    "sqlalchemy.dialects.postgresql.asyncpg",
    "sqlalchemy.dialects.sqlite.aiosqlite",
    "asyncpg",  # the dialect imports its driver only when an engine is made
    "aiosqlite",
    "secrets",
    "stringprep",
    "getpass",
    "typer._adapters",
    "typer._click.decorators",
    "bots.bootstrap",
    "bots.worker",
)
BACKENDS = {"sandbox": "bots.sandbox_client", "telethon": "bots.telethon_client"}


def preload() -> None:
    for name in PRELOAD:
        importlib.import_module(name)
    from core.settings import Settings

    try:
        backends = [BACKENDS[Settings().telegram_backend]]
    except Exception:  # settings a worker would refuse anyway: warm both adapters
        backends = list(BACKENDS.values())
    for name in backends:
        importlib.import_module(name)
    from sqlalchemy.orm import configure_mappers

    # Mappers configure themselves on a process's first query: done here, once, shared.
    configure_mappers()


class ForkServer:
    def __init__(self, control: socket.socket, *, grace: float) -> None:
        self._control = control
        self._grace = grace
        self._ending = False
        self._children: dict[int, str] = {}  # pid → instance
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def serve(self) -> None:
        """Serve until the runtime closes its end or SIGTERM comes (the watchdog died); then
        stop the children and return."""
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, lambda _sig, _frame: None)  # only wakes the select
        signal.signal(signal.SIGTERM, self._asked_to_end)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the watchdog's to handle
        self._send(Ready(pid=os.getpid()).model_dump_json())
        with selectors.DefaultSelector() as selector:
            selector.register(self._control, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._ending:
                for key, _ in selector.select():
                    if key.fileobj is self._control and not self._request():
                        self._ending = True
                    if key.fileobj == self._wake_r:
                        with contextlib.suppress(BlockingIOError):
                            while os.read(self._wake_r, 4096):
                                pass
                self._reap()
        self._end_children()

    def _asked_to_end(self, _sig: int, _frame: object) -> None:
        self._ending = True  # the select wakes through the wakeup fd

    def _end_children(self) -> None:
        """SIGTERM to every child's process group, SIGKILL to what is left after the grace."""
        for pid in self._children:
            _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + self._grace
        while self._children and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.02)
        for pid in self._children:
            _signal_group(pid, signal.SIGKILL)
        for pid in list(self._children):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            self._children.pop(pid, None)

    def _request(self) -> bool:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self._control, MAX_MESSAGE, 4)
        except ConnectionError:
            return False
        if not data:
            return False
        try:
            request = Spawn.model_validate_json(data)
        except ValueError as exc:
            print(f"fork server: bad request dropped: {exc}", file=sys.stderr)
            for fd in fds:
                os.close(fd)
            return True
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            self._send(
                Failed(instance=request.instance, error="no output descriptor").model_dump_json()
            )
            return True
        self._spawn(request, fds[0])
        return True

    def _spawn(self, request: Spawn, output: int) -> None:
        me = os.getpid()
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(output)
            self._send(Failed(instance=request.instance, error=str(exc)).model_dump_json())
            return
        if pid == 0:  # pragma: no cover - the child; it never returns from here
            code = 1
            try:
                code = self._become_worker(request, output, parent=me)
            finally:
                os._exit(code)
        os.close(output)
        self._children[pid] = request.instance
        self._send(Spawned(instance=request.instance, pid=pid).model_dump_json())

    def _reap(self) -> None:
        for pid, status in reaped(self._children):
            instance = self._children.pop(pid, None)
            if instance is not None:
                ended = Exited(instance=instance, pid=pid, code=exit_code(status))
                self._send(ended.model_dump_json())

    def _send(self, message: str) -> None:
        with contextlib.suppress(OSError):  # the runtime is gone: the next read ends the loop
            self._control.send(message.encode())

    def _become_worker(
        self, request: Spawn, output: int, *, parent: int
    ) -> int:  # pragma: no cover
        """In the child: undo what a worker must not inherit, then run the worker's entry."""
        os.setsid()  # its own process group: a stop reaches anything it spawns
        die_with_parent(signal.SIGKILL)  # the server was killed: it could not stop us
        if os.getppid() != parent:  # the server died between fork and prctl
            return 1
        self._control.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        os.environ.update(request.env)
        argv = ["coolthing", "run", "bots", "--account", str(request.account)]
        _retitle(argv)
        return run_as_command(argv, output)


def reaped(children: Collection[int]) -> Iterator[tuple[int, int]]:
    """(pid, wait status) of every child that has ended, without blocking, while ``children``
    (which the caller shrinks as it goes) still names any."""
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, status


def run_as_command(
    argv: list[str], output: int, *, errors: int | None = None, stdin: int | None = None
) -> int:  # pragma: no cover - in a child
    """In a child forked from a warm parent: undo what the command would not have inherited
    (the parent's signal handling, its stdio, its disabled collector, its random state, its log
    handlers), then run ``coolthing ARGV[1:]``'s entry; the exit code as the command's.
    ``output`` is its stdout, and its stderr unless ``errors`` is given; stdin is /dev/null
    unless given. The descriptors passed are closed."""
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM):  # SIGPIPE stays ignored, as Python sets it
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    source = os.open(os.devnull, os.O_RDONLY) if stdin is None else stdin
    for fd, onto in ((source, 0), (output, 1), (output if errors is None else errors, 2)):
        os.dup2(fd, onto)
    for fd in {source, output, output if errors is None else errors} - {0, 1, 2}:
        os.close(fd)
    gc.enable()  # off in the parent while it imported; the frozen objects stay out of reach
    random.seed()  # never the same sequence as a sibling's (jitter, ids)
    logging.getLogger().handlers.clear()  # the service configures its own
    sys.argv = argv
    return _run_cli(argv[1:])


def _retitle(argv: list[str]) -> None:  # pragma: no cover - in the child
    """``ps`` (and anything reading /proc/PID/cmdline) shows the worker as the command it runs,
    NUL-separated like a real argv, not as the server it was forked from: the argument area the
    kernel reports is rewritten in place through /proc/self/mem, cut to the server's own argv's
    length (``python -m watchdog.runtimes.fork_server N`` holds ``coolthing run bots --account``
    and a six-digit id)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (fields 48, 49)
        wanted = b"\0".join(part.encode() for part in argv) + b"\0"
        if len(wanted) > end - start:
            return
        with open("/proc/self/mem", "r+b", buffering=0) as memory:
            memory.seek(start)
            memory.write(wanted.ljust(end - start, b"\0"))


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _run_cli(args: list[str]) -> int:  # pragma: no cover - in the child
    from coolthing.cli import main

    try:
        main(args)
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    return code


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    grace = float(sys.argv[2]) if len(sys.argv) > 2 else 15.0
    die_with_parent()
    # No collection while importing: the garbage it would free leaves holes in pages the
    # children share, and their first allocations would fill (and so copy) those pages.
    gc.disable()
    preload()
    if threading.active_count() != 1:  # a fork would copy another thread's locks mid-use
        print("fork server: an import started a thread; forking anyway", file=sys.stderr)
    gc.freeze()  # everything imported so far is shared with the children, never collected
    ForkServer(control, grace=grace).serve()


if __name__ == "__main__":
    main()
