"""The faults of a chaos run, how each is inflicted and when the system counts as recovered.

- ``kill_worker``: SIGKILL an account's worker (a child of the watchdog); recovered when the
  account's heartbeat row names a new process (the watchdog started one and it beats).
- ``kill_manager``: SIGKILL the manager; recovered when the restarted manager consumes
  ``manager.leads`` again (the supervisor, like Compose, starts it again).
- ``restart_rabbitmq``: stop the whole RabbitMQ node, keep it down ``down`` seconds, start it;
  recovered at the first DM the sandbox records after the node is back.
- ``restart_postgres``: stop PostgreSQL (``immediate``: every server process killed, recovery on
  start), keep it down ``down`` seconds, start it; recovered at the first DM after it is back.

Every recovery time is counted from the moment the fault began.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from bench.chaos_world import World

KINDS = ("kill_worker", "kill_manager", "restart_rabbitmq", "restart_postgres")
RECOVERY_TIMEOUT = 120.0


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the first lead was posted
    kind: str
    target: str = ""  # kill_worker: the account's name
    down: float = 0.0  # restarts: seconds the server stays stopped


@dataclass
class Happened:
    fault: Fault
    began: float  # time.monotonic()
    ended: float  # the kill was sent, or the server answered again
    victim: int = 0  # the killed process's pid
    recovered: float | None = None  # time.monotonic()

    @property
    def recovery_s(self) -> float | None:
        return None if self.recovered is None else self.recovered - self.began


def random_plan(
    rng: random.Random, *, count: int, window: float, workers: list[str]
) -> list[Fault]:
    """``count`` faults (each kind at least once) at random moments within the first 85% of
    ``window`` seconds, at least 3 s apart so each recovery can be told apart."""
    kinds = list(KINDS) + [rng.choice(KINDS) for _ in range(max(count - len(KINDS), 0))]
    rng.shuffle(kinds)
    moments: list[float] = []
    while len(moments) < len(kinds):
        moment = rng.uniform(0.05 * window, 0.85 * window)
        if all(abs(moment - m) >= 3.0 for m in moments):
            moments.append(moment)
    return [
        Fault(
            at=round(at, 1),
            kind=kind,
            target=rng.choice(workers) if kind == "kill_worker" else "",
            down=round(rng.uniform(1.0, 5.0), 1) if kind.startswith("restart") else 0.0,
        )
        for at, kind in zip(sorted(moments), kinds, strict=True)
    ]


async def _worker_of(world: World, account: int) -> int:
    """The pid of the account's worker (its heartbeat's, if the watchdog runs it), waiting for
    one if it is between processes."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(SQLAlchemyError, OSError):
            pid = (await world.beats()).get(account)
            if pid in world.workers():
                return pid
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no worker of account {account} to kill")


async def inflict(world: World, fault: Fault) -> Happened:
    began = time.monotonic()
    victim = 0
    services = world.services
    if fault.kind == "kill_worker":
        victim = await _worker_of(world, world.account_ids[fault.target])
        world.killed.add(victim)  # before the kill: the observer must not count it as a crash
        os.kill(victim, signal.SIGKILL)
    elif fault.kind == "kill_manager":
        victim = world.supervisor.kill("manager")
    elif fault.kind == "restart_rabbitmq":
        await services.rabbit.stop()
        await asyncio.sleep(fault.down)
        await services.rabbit.start()
    elif fault.kind == "restart_postgres":
        await services.postgres.stop("immediate")
        await asyncio.sleep(fault.down)
        await services.postgres.start()
    else:
        raise ValueError(f"no such fault: {fault.kind}")
    return Happened(fault, began, time.monotonic(), victim)


async def _recovered(world: World, happened: Happened) -> bool:
    kind = happened.fault.kind
    if kind == "kill_worker":
        account = world.account_ids[happened.fault.target]
        with contextlib.suppress(SQLAlchemyError, OSError):
            pid = (await world.beats()).get(account)
            return pid is not None and pid != happened.victim
        return False
    if kind == "kill_manager":
        restarted = world.supervisor.started_at["manager"] > happened.began
        return restarted and await world.manager_consumes()
    return world.dms.first_after(happened.ended) is not None


async def track_recovery(world: World, happened: Happened) -> None:
    """Poll until the fault's recovery shows (``happened.recovered``) or the timeout."""
    deadline = happened.began + RECOVERY_TIMEOUT
    while time.monotonic() < deadline:
        if await _recovered(world, happened):
            if happened.fault.kind.startswith("restart"):
                happened.recovered = world.dms.first_after(happened.ended)
            else:
                happened.recovered = time.monotonic()
            return
        await asyncio.sleep(0.1)
