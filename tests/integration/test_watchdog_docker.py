"""The watchdog with the Docker runtime against a real dockerd (``compose/ensure-docker.sh``
starts it): real `coolthing run bots` workers in containers of a locally made image (an empty
root file system; the host's Python, the venv and the repository bind-mounted read-only), host
networking, loopback only. Skipped only when dockerd cannot start here."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tarfile
import uuid
from collections.abc import AsyncIterator
from io import BytesIO
from pathlib import Path
from typing import Any

import aiodocker
import pytest

from bots.exit_codes import EXIT_ACCOUNT_UNUSABLE
from sandbox.bootstrap import RunningSandbox
from sandbox.faults import AccountFault, apply_fault
from tests.conftest import eventually
from tests.integration.watchdog_rig import Rig, open_rig
from watchdog.runtimes.base import ACCOUNT_LABEL, SCOPE_LABEL
from watchdog.runtimes.docker import ContainerSpec, DockerRuntime

pytestmark = pytest.mark.timeout(180)

REPO = Path(__file__).resolve().parents[2]
IMAGE = "coolthing-watchdog-test:latest"
WORKER = [f"{REPO}/.venv/bin/python", "-m", "coolthing", "run", "bots", "--account", "{account}"]
# A worker that only eats memory, for the OOM case: 64 MB allowed, 400 MB wanted.
HOG = [f"{REPO}/.venv/bin/python", "-c", "print('eating', flush=True); b = bytearray(400 << 20)"]


def _root_fs() -> bytes:
    """An empty Debian-shaped root: the merged-/usr links, nothing else (the rest is mounted)."""
    buffer = BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in ("tmp", "root", "etc", "usr"):
            item = tarfile.TarInfo(name)
            item.type, item.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
            tar.addfile(item)
        for name in ("bin", "lib", "lib64", "sbin"):
            link = tarfile.TarInfo(name)
            link.type, link.linkname = tarfile.SYMTYPE, f"usr/{name}"
            tar.addfile(link)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def engine() -> str:
    """The engine's image for workers, made here; the test skips when dockerd cannot start."""
    started = subprocess.run(
        [str(REPO / "compose" / "ensure-docker.sh")], capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        pytest.skip(f"dockerd cannot start here: {started.stderr.strip()[-600:]}")
    there = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True, check=False)
    if there.returncode != 0:  # made once per engine: the image never changes
        made = subprocess.run(
            ["docker", "import", "-", IMAGE], input=_root_fs(), capture_output=True, check=False
        )
        assert made.returncode == 0, made.stderr.decode()
    return IMAGE


def _binds() -> list[str]:
    paths = {"/usr", "/etc", sys.base_prefix, str(REPO)}
    return [f"{p}:{p}:ro" for p in sorted(paths)]


def spec(env: dict[str, str], scope: str, **changes: Any) -> ContainerSpec:
    values: dict[str, Any] = {
        "image": IMAGE,
        "command": WORKER,
        "env": {k: v for k, v in env.items() if k.startswith("COOLTHING_")},
        "memory_mb": 256,
        "cpus": 1.0,
        "pids": 128,
        "binds": _binds(),
        "workdir": str(REPO),
        "log_lines": 20,
        "scope": scope,
    }
    return ContainerSpec(**(values | changes))


@pytest.fixture
async def docker(engine: str) -> AsyncIterator[aiodocker.Docker]:
    client = aiodocker.Docker()
    yield client
    await client.close()


@pytest.fixture
def scope() -> str:
    return f"wdtest{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def rig(
    postgres_url: str,
    amqp_url: str,
    sandbox: RunningSandbox,
    docker: aiodocker.Docker,
    scope: str,
) -> AsyncIterator[Rig]:
    async for made in open_rig(
        postgres_url, amqp_url, sandbox, lambda env: DockerRuntime(spec(env, scope))
    ):
        yield made
    for container in await _containers(docker, scope):  # containers outlive the watchdog
        await container.delete(force=True)


async def _containers(
    docker: aiodocker.Docker, scope: str, account: int | None = None
) -> list[Any]:
    labels = [f"{SCOPE_LABEL}={scope}"]
    if account is not None:
        labels.append(f"{ACCOUNT_LABEL}={account}")
    return list(await docker.containers.list(all=True, filters={"label": labels}))


async def running_ids(docker: aiodocker.Docker, scope: str, account: int) -> list[str]:
    listed = await _containers(docker, scope, account)
    return [c.id for c in listed if c._container.get("State") == "running"]


async def one_container(
    docker: aiodocker.Docker, scope: str, account: int, *, other_than: str = "", seconds: float = 30
) -> str:
    async def probe() -> str | None:
        ids = [i for i in await running_ids(docker, scope, account) if i != other_than]
        return ids[0] if len(ids) == 1 else None

    return await eventually(probe, seconds=seconds, what=f"a container for account {account}")


async def test_a_container_per_active_account_with_limits_and_a_paused_one_is_stopped(
    rig: Rig, docker: aiodocker.Docker, scope: str
) -> None:
    active = await rig.account("first")
    paused = await rig.account("second", status="paused")
    await rig.watchdog("a")
    container_id = await one_container(docker, scope, active)
    info = await docker.containers.container(container_id).show()
    host = info["HostConfig"]
    assert host["RestartPolicy"]["Name"] == "no" and host["NetworkMode"] == "host"
    assert host["Memory"] == 256 << 20 and host["NanoCpus"] == 10**9 and host["PidsLimit"] == 128

    async def beating() -> bool:
        beat, state = await rig.beat(active), await rig.state(active)
        return beat is not None and state is not None and beat.instance == state.instance

    await eventually(beating, seconds=30, what="the containerised worker's heartbeat")
    assert await _containers(docker, scope, paused) == []

    await rig.set_status(active, "paused")
    state = await rig.until_state(
        active, lambda s: s.state == "stopped", seconds=30, what="the worker to stop"
    )
    assert state.last_reason == "account_paused"
    assert await _containers(docker, scope, active) == []  # judged, then removed


async def test_a_killed_container_is_back_at_once_and_the_event_stream_is_followed_again(
    rig: Rig, docker: aiodocker.Docker, scope: str
) -> None:
    account = await rig.account("first")
    # A long periodic pass: only the event stream can notice the kill within seconds.
    watchdog = await rig.watchdog("a", watchdog_reconcile_interval=60.0)
    runtime = watchdog.runtime
    assert isinstance(runtime, DockerRuntime)
    first = await one_container(docker, scope, account)
    await runtime.docker.events.stop()  # type: ignore[no-untyped-call]  # aiodocker: untyped
    await eventually(_followed_again(runtime), seconds=10, what="the stream followed again")
    await docker.containers.container(first).kill(signal="SIGKILL")
    await one_container(docker, scope, account, other_than=first, seconds=10)
    state = await rig.until_state(
        account, lambda s: s.state == "running" and s.restarts == 1, seconds=10, what="restart"
    )
    assert state.last_exit_code == 128 + signal.SIGKILL and state.last_reason == "crash"


def _followed_again(runtime: DockerRuntime) -> Any:
    async def probe() -> bool:
        return runtime.events_followed >= 2

    return probe


async def test_an_oom_killed_worker_is_told_apart_and_quarantined(
    rig: Rig, docker: aiodocker.Docker, scope: str
) -> None:
    account = await rig.account("first")
    rig.make_runtime = lambda: DockerRuntime(spec(rig.worker_env, scope, command=HOG, memory_mb=64))
    await rig.watchdog("a", watchdog_quarantine_crashes=1)
    state = await rig.until_state(
        account, lambda s: s.quarantined, seconds=40, what="the hog to be quarantined"
    )
    assert state.last_reason == "oom" and state.last_exit_code == 137
    (body,) = await rig.outbox("worker.crashed")
    payload = json.loads(body)["payload"]
    assert payload["oom_killed"] is True and "eating" in payload["log_tail"]


async def test_a_banned_account_is_not_restarted(
    rig: Rig, docker: aiodocker.Docker, scope: str
) -> None:
    account = await rig.account("first")
    await rig.watchdog("a")
    await one_container(docker, scope, account)

    async def online() -> bool:
        return (await rig.beat(account)) is not None

    await eventually(online, seconds=30, what="the worker online")
    apply_fault(rig.sandbox.world, AccountFault(kind="ban", account=rig.sandbox_users[account]))
    state = await rig.until_state(
        account, lambda s: s.state == "stopped", seconds=30, what="the worker's exit"
    )
    assert state.last_reason == "account_banned" and state.restarts == 0
    assert state.last_exit_code in (EXIT_ACCOUNT_UNUSABLE, 0, 128 + signal.SIGTERM)
    await asyncio.sleep(1.5)
    assert await _containers(docker, scope, account) == []


async def test_a_new_lease_holder_adopts_running_containers(
    rig: Rig, docker: aiodocker.Docker, scope: str
) -> None:
    accounts = [await rig.account(name) for name in ("first", "second")]
    first = await rig.watchdog("a")
    await rig.watchdog("b")
    before = [await one_container(docker, scope, a) for a in accounts]

    async def most_containers() -> int:
        return max([len(await running_ids(docker, scope, a)) for a in accounts])

    highest = 0
    for _ in range(20):
        highest = max(highest, await most_containers())
        await asyncio.sleep(0.1)
    assert highest == 1
    holder = first if first.lease.held else rig.watchdogs[1]
    await holder.stop()  # containers stay; the other watchdog takes the lease and adopts them
    rig.watchdogs.remove(holder)
    await eventually(_holds(rig), seconds=10, what="the other watchdog to take the lease")
    await asyncio.sleep(1.0)
    assert [await one_container(docker, scope, a) for a in accounts] == before


def _holds(rig: Rig) -> Any:
    async def probe() -> bool:
        return rig.watchdogs[0].lease.held

    return probe


async def test_a_hung_containerised_worker_is_killed_and_restarted(
    rig: Rig, docker: aiodocker.Docker, scope: str
) -> None:
    account = await rig.account("first")
    await rig.watchdog("a")
    first = await one_container(docker, scope, account)

    info = await docker.containers.container(first).show()
    pid = int(info["State"]["Pid"])  # the worker is the container's first process
    await eventually(lambda: rig.beat(account), seconds=30, what="its first heartbeat")
    os.kill(pid, signal.SIGSTOP)  # silent, not exited
    await one_container(docker, scope, account, other_than=first, seconds=30)
    state = await rig.until_state(
        account, lambda s: s.state == "running", seconds=10, what="the new worker"
    )
    assert state.last_reason == "hung" and state.restarts == 1
