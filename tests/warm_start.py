"""A warm parent that forks ``coolthing run …`` for the e2e and browser stacks.

Every stack test starts five to eight services, and each ``python -m coolthing run NAME`` spends
one to four seconds of a core importing (aiogram's types, openai's, SQLAlchemy's) before it does
anything: several minutes of the suite. ``python -m tests.warm_start FD`` imports all of it once
per test process, then forks a child per request that runs the same entry as the command
(``coolthing.cli.main``) with the request's environment, its output appended to the request's
log file. The child is the service as the command runs it; only the interpreter's start and the
imports are skipped (the watchdog's fork server does the same for account workers).

Plain and synchronous on purpose: no event loop, no thread and no connection exist before a
fork. One JSON message per datagram on a SOCK_SEQPACKET pair: ``{"argv", "env", "log"}`` in;
``{"pid"}`` or ``{"error"}`` back, and ``{"exited": pid, "code"}`` when a child ends (128+N for
signal N, as the Popen handle in ``tests/conftest.py`` reports it negated, like Popen).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from watchdog.runtimes.fork_server import PRELOAD as WORKER_PRELOAD
from watchdog.runtimes.fork_server import reaped, run_as_command
from watchdog.runtimes.local import die_with_parent

MAX_MESSAGE = 1 << 20
_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND

# What the services import on their way to running, beyond what an account worker does (the
# watchdog's fork server preloads that); anything missed is imported by the child itself
# (slower, never wrong).
PRELOAD = (
    *WORKER_PRELOAD,
    "uvicorn",
    "sandbox.bootstrap",
    "parser.bootstrap",
    "manager.bootstrap",
    "notifier.bootstrap",
    "scripts.bootstrap",
    "watchdog.bootstrap",
    "bots.sandbox_client",
    "admin.app",
)


def preload() -> list[str]:
    """Import what can be; a module that fails here is left to the child (and named)."""
    missed = []
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:
            missed.append(name)
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    return missed


class WarmStart:
    def __init__(self, control: socket.socket) -> None:
        self._control = control
        self._children: set[int] = set()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def serve(self) -> None:
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, lambda _sig, _frame: None)  # only wakes the select
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is pytest's to handle
        self._send({"ready": os.getpid()})
        with selectors.DefaultSelector() as selector:
            selector.register(self._control, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._control and not self._request():
                        return
                    if key.fileobj == self._wake_r:
                        with contextlib.suppress(BlockingIOError):
                            while os.read(self._wake_r, 4096):
                                pass
                self._reap()

    def _request(self) -> bool:
        try:
            data = self._control.recv(MAX_MESSAGE)
        except ConnectionError:
            return False
        if not data:
            return False
        request = json.loads(data)
        opened: list[int] = []
        try:
            for key, flags in (("log", _APPEND), ("err", _APPEND), ("stdin", os.O_RDONLY)):
                path = request.get(key)
                opened.append(-1 if path is None else os.open(path, flags, 0o644))
            pid = os.fork()
        except OSError as exc:
            for fd in opened:
                if fd >= 0:
                    os.close(fd)
            self._send({"error": str(exc)})
            return True
        if pid == 0:  # pragma: no cover - the child never returns from here
            code = 1
            try:
                code = self._become(request["argv"], request["env"], *opened)
            finally:
                os._exit(code)
        for fd in opened:
            if fd >= 0:
                os.close(fd)
        self._children.add(pid)
        self._send({"pid": pid})
        return True

    def _reap(self) -> None:
        for pid, status in reaped(self._children):
            self._children.discard(pid)
            self._send({"exited": pid, "code": os.waitstatus_to_exitcode(status)})

    def _send(self, message: dict[str, object]) -> None:
        with contextlib.suppress(OSError):  # the test process is gone: the next read ends us
            self._control.send(json.dumps(message).encode())

    def _become(
        self, argv: list[str], env: dict[str, str], log: int, err: int, stdin: int
    ) -> int:  # pragma: no cover
        """In the child: the environment and stdio ``python -m coolthing ARGV`` would have."""
        die_with_parent(signal.SIGKILL)
        self._control.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        os.environ.clear()
        os.environ.update(env)
        return run_as_command(
            ["coolthing", *argv],
            log,
            errors=None if err < 0 else err,
            stdin=None if stdin < 0 else stdin,
        )


# The test process's side.


class WarmProcess:
    """A forked service with what the stack uses of ``subprocess.Popen``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._ended = threading.Event()

    def ended(self, code: int) -> None:
        self.returncode = code
        self._ended.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class WarmStarter:
    """Starts the warm parent once and forks services from it; a thread reads its messages."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._server = subprocess.Popen(
            [sys.executable, "-m", "tests.warm_start", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            cwd=Path(__file__).resolve().parent.parent,
        )
        theirs.close()
        self._control = ours
        self._lock = threading.Lock()  # one request at a time: its answer is the next one
        self._answers: list[dict[str, object]] = []
        self._answered = threading.Condition()
        self._processes: dict[int, WarmProcess] = {}
        self._early: dict[int, int] = {}  # exits read before their pid was registered
        threading.Thread(target=self._read, name="warm-start", daemon=True).start()
        self._answer(timeout=120)  # "ready": everything is imported

    def _read(self) -> None:
        while data := self._control.recv(MAX_MESSAGE):
            message = json.loads(data)
            if "exited" in message:
                pid, code = int(message["exited"]), int(message["code"])
                with self._answered:
                    process = self._processes.pop(pid, None)
                    if process is None:
                        self._early[pid] = code
                if process is not None:
                    process.ended(code)
                continue
            with self._answered:
                self._answers.append(message)
                self._answered.notify_all()

    def _answer(self, timeout: float) -> dict[str, object]:
        with self._answered:
            if not self._answered.wait_for(lambda: self._answers, timeout):
                raise RuntimeError("the warm start server did not answer")
            return self._answers.pop(0)

    def start(
        self,
        argv: list[str],
        env: dict[str, str],
        log: Path,
        *,
        err: Path | None = None,
        stdin: Path | None = None,
    ) -> WarmProcess:
        """``coolthing ARGV`` with ``env``, its output appended to ``log`` (stderr too unless
        ``err``), its input read from ``stdin`` (/dev/null by default)."""
        request: dict[str, object] = {"argv": argv, "env": env, "log": str(log)}
        if err is not None:
            request["err"] = str(err)
        if stdin is not None:
            request["stdin"] = str(stdin)
        with self._lock:
            self._control.send(json.dumps(request).encode())
            answer = self._answer(timeout=30)
            if "error" in answer:
                raise OSError(f"could not fork {argv}: {answer['error']}")
            process = WarmProcess(int(str(answer["pid"])))
            with self._answered:
                early = self._early.pop(process.pid, None)
                if early is None:
                    self._processes[process.pid] = process
            if early is not None:
                process.ended(early)
            return process

    def run(
        self, argv: list[str], env: dict[str, str], *, stdin: bytes, timeout: float
    ) -> subprocess.CompletedProcess[bytes]:
        """What ``subprocess.run(["coolthing", *argv], input=stdin, capture_output=True)``
        answers, from a fork."""
        with tempfile.TemporaryDirectory(prefix="warm-run-") as scratch:
            given, out, err = (Path(scratch) / name for name in ("in", "out", "err"))
            given.write_bytes(stdin)
            process = self.start(argv, env, out, err=err, stdin=given)
            try:
                code = process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
            stdout = out.read_bytes() if out.exists() else b""
            stderr = err.read_bytes() if err.exists() else b""
        return subprocess.CompletedProcess(["coolthing", *argv], code, stdout, stderr)

    def close(self) -> None:
        self._control.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._server.wait(timeout=10)


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    die_with_parent(signal.SIGKILL)
    gc.disable()  # no collection while importing: its holes would be copied into every child
    missed = preload()
    if missed:
        print(f"warm start: left to the children: {', '.join(missed)}", file=sys.stderr)
    gc.freeze()
    WarmStart(control).serve()


if __name__ == "__main__":
    main()
