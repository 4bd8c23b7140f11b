"""The multi-process benchmarks' shared machinery: ``coolthing`` service processes, their
environment, waiting for a condition, and a run with its log directory and final JSON line.

PostgreSQL and RabbitMQ are the benchmarks' own database and virtual host
(COOLTHING_BENCH_DATABASE_URL / COOLTHING_BENCH_AMQP_URL, else coolthing_bench on 127.0.0.1;
compose/ensure-services.sh makes them): a test suite running beside us resets coolthing_test and
consumes from its queues.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

DB_URL = os.environ.get(
    "COOLTHING_BENCH_DATABASE_URL",
    "postgresql+asyncpg://coolthing:coolthing@127.0.0.1:5432/coolthing_bench",
)
AMQP_URL = os.environ.get(
    "COOLTHING_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/coolthing_bench"
)
START_TIMEOUT = 30.0


# ---- processes -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """``coolthing`` processes sharing one environment; ``stop`` ends them (SIGTERM, then KILL)."""

    def __init__(self, env: dict[str, str], logs: Path, profile: set[str]) -> None:
        self.env = env
        self.logs = logs
        self.profile = profile
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def _python(self, name: str) -> list[str]:
        if name not in self.profile:
            return [sys.executable]
        return [sys.executable, "-m", "cProfile", "-o", str(self.logs / f"{name}.prof")]

    def start(self, name: str, *args: str) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                [*self._python(name), "-m", "coolthing", "run", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def command(self, *args: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "coolthing", *args, env=self.env, stdout=-1, stderr=-1
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        if proc.returncode != 0:
            raise RuntimeError(f"coolthing {' '.join(args)} failed:\n{out.decode()}{err.decode()}")

    def stop(self, *names: str) -> None:
        procs = [self.procs.pop(n) for n in (names or list(self.procs)) if n in self.procs]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise RuntimeError(f"services exited early {dead}; logs in {self.logs}")


def service_env(logs: Path) -> dict[str, str]:
    sandbox_port = free_port()
    return {
        **os.environ,
        "COOLTHING_ENV": "test",
        "COOLTHING_DATABASE_URL": DB_URL,
        "COOLTHING_BUS_URL": AMQP_URL,
        "COOLTHING_SECRET_KEY": Fernet.generate_key().decode(),
        "COOLTHING_SECRET_KEY_FILE": str(logs / "secret.key"),
        "COOLTHING_SANDBOX_PORT": str(sandbox_port),
        "COOLTHING_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}",
        "COOLTHING_API_PORT": str(free_port()),
        "COOLTHING_JOIN_INTERVAL": "0",
        "COOLTHING_LOG_LEVEL": os.environ.get("COOLTHING_LOG_LEVEL", "INFO"),
    }


async def wait_for(check: Callable[[], Awaitable[object]], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if await check():
                return
        except (httpx.HTTPError, OSError):
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError(f"timed out after {seconds:.0f}s waiting for {what}")


Benchmark = Callable[[argparse.Namespace, Path], Awaitable[dict[str, object]]]


async def with_logs(
    name: str,
    args: argparse.Namespace,
    run: Benchmark,
) -> dict[str, object]:
    """Run one benchmark with a log directory that is kept on failure or when asked, and stop
    cleanly on SIGTERM (shared by the multi-process benchmarks)."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    logs = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    keep = args.keep_logs or bool(args.profile)
    started = time.monotonic()
    try:
        return await run(args, logs)
    except BaseException:
        keep = True
        raise
    finally:
        print(f"took {time.monotonic() - started:.0f} s", file=sys.stderr)
        if keep:
            print(f"service logs: {logs}", file=sys.stderr)
        else:
            shutil.rmtree(logs, ignore_errors=True)


def main(
    name: str,
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace, Path], Awaitable[dict[str, object]]],
) -> None:
    """Print the final JSON line, or say that an interrupted run stopped what it started."""
    try:
        print(json.dumps(asyncio.run(with_logs(name, args, run))))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit("interrupted; every process this run started was stopped")
