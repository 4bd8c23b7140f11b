"""What the Docker runtime asks the engine for: limits, labels, restart policy, network."""

from __future__ import annotations

from core.settings import Settings
from watchdog.runtimes.docker import ContainerSpec, DockerRuntime


def test_a_worker_container_is_limited_labelled_and_never_restarted_by_docker() -> None:
    spec = ContainerSpec(
        image="coolthing:latest",
        command=["run", "bots", "--account", "{account}"],
        env={"COOLTHING_BUS_URL": "amqp://x", "COOLTHING_METRICS_PORT": "9100"},
        memory_mb=300,
        cpus=0.5,
        pids=64,
        scope="prod",
    )
    config = spec.config(7, "abc")
    host = config["HostConfig"]
    assert config["Cmd"] == ["run", "bots", "--account", "7"]
    assert config["Labels"] == {
        "coolthing.account": "7",
        "coolthing.instance": "abc",
        "coolthing.scope": "prod",
    }
    assert host["RestartPolicy"] == {"Name": "no"}
    assert host["Memory"] == host["MemorySwap"] == 300 << 20
    assert host["NanoCpus"] == 500_000_000 and host["PidsLimit"] == 64
    assert host["NetworkMode"] == "host"
    # Sharing the host's network, workers serve no metrics port (they would all want one).
    assert "COOLTHING_METRICS_PORT=0" in config["Env"]
    assert "COOLTHING_WATCHDOG_WORKER_INSTANCE=abc" in config["Env"]


def test_on_a_network_of_their_own_workers_serve_metrics_for_prometheus() -> None:
    settings = Settings(
        watchdog_docker_network="coolthing",
        watchdog_docker_command=["run", "bots", "--account", "{account}"],
    )
    config = DockerRuntime.from_settings(settings).spec.config(3, "i")
    assert config["HostConfig"]["NetworkMode"] == "coolthing"
    assert "COOLTHING_METRICS_PORT=9100" in config["Env"]
