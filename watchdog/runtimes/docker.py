"""Workers as Docker containers through aiodocker: one container per account, labelled
``coolthing.account=<id>``, with memory / CPU / pids limits, RestartPolicy "no" (only the
watchdog restarts) and host networking (or the network the settings name, as under Compose).

Containers outlive the watchdog: a new lease holder finds them by label and adopts them. A
worker's end comes from the engine's event stream (``die``, ``oom``), followed again whenever it
drops; ``running()`` also reports any exited container still there, so an end missed while the
stream was down is caught by the next periodic pass. An ended container is read (exit code,
OOMKilled, last log lines), then removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiodocker
from aiodocker.exceptions import DockerError

from core.settings import Settings
from watchdog.runtimes.base import (
    ACCOUNT_LABEL,
    INSTANCE_ENV,
    INSTANCE_LABEL,
    SCOPE_LABEL,
    WORKER_DB_ENV,
    RunningWorker,
    WorkerExit,
    WorkerRuntime,
)

log = logging.getLogger(__name__)

RESUBSCRIBE_AFTER = 1.0  # seconds between attempts to follow the event stream again


@dataclass(frozen=True)
class ContainerSpec:
    image: str
    command: Sequence[str]  # "{account}" is replaced by the account id
    env: Mapping[str, str] = field(default_factory=dict)
    memory_mb: int = 512
    cpus: float = 1.0
    pids: int = 256
    binds: Sequence[str] = ()
    workdir: str | None = None
    log_lines: int = 30
    scope: str = "coolthing"
    network: str = "host"
    metrics_port: int = 9100  # on a network of their own only

    @property
    def scope_filter(self) -> str:
        return f"{SCOPE_LABEL}={self.scope}"

    def config(self, account_id: int, instance: str) -> dict[str, Any]:
        # On the host's network every worker's metrics port would collide: none there.
        port = 0 if self.network == "host" else self.metrics_port
        env = {
            **self.env,
            **WORKER_DB_ENV,
            INSTANCE_ENV: instance,
            "COOLTHING_METRICS_PORT": str(port),
        }
        memory = self.memory_mb * 1024 * 1024
        host: dict[str, Any] = {
            "RestartPolicy": {"Name": "no"},
            "NetworkMode": self.network,
            "Memory": memory,
            "MemorySwap": memory,  # no swap: over the limit is an OOM kill, not a slow crawl
            "NanoCpus": int(self.cpus * 1e9),
            "PidsLimit": self.pids,
            "Binds": list(self.binds),
        }
        config: dict[str, Any] = {
            "Image": self.image,
            "Cmd": [part.replace("{account}", str(account_id)) for part in self.command],
            "Env": [f"{key}={value}" for key, value in env.items()],
            "Labels": {
                ACCOUNT_LABEL: str(account_id),
                INSTANCE_LABEL: instance,
                SCOPE_LABEL: self.scope,
            },
            "HostConfig": host,
        }
        if self.workdir:
            config["WorkingDir"] = self.workdir
        return config


def passed_env() -> dict[str, str]:
    """The worker is configured like the watchdog: every COOLTHING_* variable it has."""
    return {k: v for k, v in os.environ.items() if k.startswith("COOLTHING_")}


class DockerRuntime(WorkerRuntime):
    def __init__(self, spec: ContainerSpec, *, url: str | None = None) -> None:
        super().__init__()
        self.spec = spec
        self._url = url
        self._docker: aiodocker.Docker | None = None
        self._events: asyncio.Task[None] | None = None
        self._finished: set[str] = set()  # container ids whose end was reported
        # One end at a time: a pass that meets an exited container waits for the event
        # handler's report of it, so the account never looks free before its exit is judged.
        self._finishing = asyncio.Lock()
        self.events_followed = 0  # how many times the stream was (re)subscribed; for tests

    @classmethod
    def from_settings(cls, settings: Settings) -> DockerRuntime:
        spec = ContainerSpec(
            image=settings.watchdog_docker_image,
            command=settings.watchdog_docker_command,
            env=passed_env(),
            memory_mb=settings.watchdog_docker_memory_mb,
            cpus=settings.watchdog_docker_cpus,
            pids=settings.watchdog_docker_pids,
            binds=settings.watchdog_docker_binds,
            workdir=settings.watchdog_docker_workdir,
            log_lines=settings.watchdog_log_lines,
            scope=settings.watchdog_docker_scope,
            network=settings.watchdog_docker_network,
            metrics_port=settings.watchdog_docker_metrics_port,
        )
        return cls(spec, url=settings.watchdog_docker_url)

    @property
    def docker(self) -> aiodocker.Docker:
        if self._docker is None:
            raise RuntimeError("the Docker runtime is not open")
        return self._docker

    async def open(self) -> None:
        self._docker = aiodocker.Docker(url=self._url)
        self._events = asyncio.create_task(self._follow_events(), name="docker-events")

    async def close(self) -> None:
        if self._events is not None:
            self._events.cancel()
            await asyncio.gather(self._events, return_exceptions=True)
        if self._docker is not None:
            with contextlib.suppress(DockerError):
                await self.docker.events.stop()  # type: ignore[no-untyped-call]  # aiodocker: untyped
            await self._docker.close()
            self._docker = None

    async def _follow_events(self) -> None:
        filters = {
            "type": ["container"],
            "event": ["die", "oom"],
            "label": [ACCOUNT_LABEL, self.spec.scope_filter],
        }
        while True:
            subscriber = self.docker.events.subscribe(create_task=False)  # type: ignore[no-untyped-call]  # aiodocker
            stream = asyncio.create_task(self.docker.events.run(filters=filters))
            self.events_followed += 1
            try:
                while (event := await subscriber.get()) is not None:
                    if event.get("Action") == "die":
                        await self._finish(str(event.get("id") or event["Actor"]["ID"]))
            except (DockerError, OSError, KeyError) as exc:
                log.warning("Docker event stream failed: %s", exc)
            finally:
                stream.cancel()
                await asyncio.gather(stream, return_exceptions=True)
                del subscriber  # leaves the channel
            log.warning("Docker event stream ended; following it again")
            self.changed.set()  # a pass now catches anything missed while it was down
            await asyncio.sleep(RESUBSCRIBE_AFTER)

    async def _finish(self, container_id: str) -> None:
        """Read an ended container, report its end once, remove it."""
        async with self._finishing:
            await self._finish_one(container_id)

    async def _finish_one(self, container_id: str) -> None:
        if container_id in self._finished:
            return
        self._finished.add(container_id)
        container = self.docker.containers.container(container_id)
        try:
            info = await container.show()
        except DockerError as exc:
            if exc.status == 404:
                return  # removed by someone else (another watchdog adopted and judged it)
            self._finished.discard(container_id)
            raise
        labels = info["Config"]["Labels"] or {}
        if ACCOUNT_LABEL not in labels or labels.get(SCOPE_LABEL) != self.spec.scope:
            return
        state = info["State"]
        lines: list[str] = []
        if self.spec.log_lines:
            with contextlib.suppress(DockerError):
                lines = await container.log(stdout=True, stderr=True, tail=self.spec.log_lines)
        with contextlib.suppress(DockerError):
            await container.delete(force=True)
        self.report_exit(
            WorkerExit(
                account_id=int(labels[ACCOUNT_LABEL]),
                instance=labels.get(INSTANCE_LABEL, ""),
                exit_code=state.get("ExitCode"),
                oom_killed=bool(state.get("OOMKilled")),
                log_tail="".join(lines).strip(),
            )
        )

    async def _labelled(self) -> list[dict[str, Any]]:
        labels = [ACCOUNT_LABEL, self.spec.scope_filter]
        listed = await self.docker.containers.list(all=True, filters={"label": labels})
        return [c._container for c in listed]  # the listing's JSON: State, Labels, Created

    async def running(self) -> dict[int, RunningWorker]:
        alive: dict[int, RunningWorker] = {}
        listed = await self._labelled()
        # Ends reported are remembered only while their container is still listed (being
        # removed): a late event for a removed one finds nothing anyway.
        self._finished.intersection_update(item["Id"] for item in listed)
        for item in listed:
            labels = item.get("Labels") or {}
            if item.get("State") not in ("running", "paused", "restarting"):
                await self._finish(item["Id"])
                continue
            account_id = int(labels[ACCOUNT_LABEL])
            started = datetime.fromtimestamp(int(item.get("Created", 0)), UTC)
            alive[account_id] = RunningWorker(
                account_id, labels.get(INSTANCE_LABEL, ""), item["Id"], started
            )
        return alive

    async def launch(self, account_id: int, instance: str) -> RunningWorker:
        name = f"{self.spec.scope}-bots-{account_id}"
        with contextlib.suppress(DockerError):  # an ended one not removed yet
            old = await self.docker.containers.get(name)
            await self._finish(old.id)
        config = self.spec.config(account_id, instance)
        container = await self.docker.containers.create(config, name=name)
        try:
            await container.start()
        except DockerError:
            self._finished.add(container.id)  # never ran: the caller judges the failure
            with contextlib.suppress(DockerError):
                await container.delete(force=True)
            raise
        log.info("worker of account %s started (container %s)", account_id, container.id[:12])
        return RunningWorker(account_id, instance, container.id, datetime.now(UTC))

    async def _container_of(self, account_id: int) -> str | None:
        for item in await self._labelled():
            if (item.get("Labels") or {}).get(ACCOUNT_LABEL) == str(account_id):
                return str(item["Id"])
        return None

    async def stop(self, account_id: int, *, grace: float) -> None:
        container_id = await self._container_of(account_id)
        if container_id is None:
            return
        with contextlib.suppress(DockerError):
            # SIGTERM, SIGKILL after grace; the HTTP call may outlast it by a little.
            await self.docker.containers.container(container_id).stop(t=max(int(grace), 0))
        await self._finish(container_id)

    async def kill(self, account_id: int) -> None:
        container_id = await self._container_of(account_id)
        if container_id is None:
            return
        with contextlib.suppress(DockerError):
            await self.docker.containers.container(container_id).kill(signal="SIGKILL")
            await self.docker.containers.container(container_id).wait()
        await self._finish(container_id)

    async def abandon(self, *, grace: float) -> None:
        """Containers outlive this watchdog: the next lease holder adopts them by label."""
