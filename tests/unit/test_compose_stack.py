"""The production Compose stack (compose/docker-compose.yml) holds together: every service of the
code has its entry and a scrape target, the account workers are left to the watchdog, the data
services start first, secrets come from an uncommitted env file, and Compose itself accepts the
file. No engine is needed: `config` only validates (Debian's docker-compose 1.29, or a v2 CLI)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from coolthing.cli import Service

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
PROMETHEUS_FILE = COMPOSE_DIR / "prometheus" / "prometheus.yml"
ENV_EXAMPLE = COMPOSE_DIR / "env.example"

# Not long-running services of a deployment: the sandbox is a fake Telegram for the demo and the
# tests; `bots` workers are started per account by the watchdog.
NOT_LISTED = {"sandbox", "bots"}
# The brief's list, so a service missing from the CLI too is still noticed.
REQUIRED = {"admin", "parser", "manager", "notifier", "scripts", "watchdog"}


def _load(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict), f"{path} is not a YAML mapping"
    return loaded


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load(COMPOSE_FILE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


@pytest.fixture(scope="module")
def jobs() -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in _load(PROMETHEUS_FILE)["scrape_configs"]}


def code_services() -> set[str]:
    return ({s.value for s in Service} - NOT_LISTED) | REQUIRED


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else list(command)


def _targets(job: dict[str, Any]) -> list[str]:
    return [t for group in job.get("static_configs", []) for t in group["targets"]]


def test_every_service_of_the_code_has_its_compose_entry_running_it(
    services: dict[str, dict[str, Any]],
) -> None:
    missing = sorted(code_services() - services.keys())
    assert not missing, f"compose/docker-compose.yml has no service for: {missing}"
    for name in code_services():
        assert _command(services[name]) == ["run", name], (
            f"compose service {name!r} should run `coolthing run {name}`, "
            f"runs {_command(services[name])}"
        )


def test_every_service_has_a_scrape_target_on_the_port_it_serves_metrics_on(
    services: dict[str, dict[str, Any]], jobs: dict[str, dict[str, Any]]
) -> None:
    for name in sorted(code_services()):
        assert name in jobs, f"prometheus.yml has no scrape job for service {name!r}"
        env = services[name]["environment"]
        port = "8000" if name == "admin" else str(env.get("COOLTHING_METRICS_PORT"))
        assert port not in ("None", "0"), f"{name} does not serve /metrics (COOLTHING_METRICS_PORT)"
        assert _targets(jobs[name]) == [f"{name}:{port}"], (
            f"job {name!r} scrapes {_targets(jobs[name])}, but {name} serves /metrics on {port}"
        )
        listen = str(env.get("COOLTHING_API_HOST"))
        assert listen == "0.0.0.0", (  # noqa: S104 - inside its container, reached over its network
            f"{name} must listen on 0.0.0.0 for Prometheus to reach it from its container"
        )


def test_the_admin_is_scraped_with_its_metrics_token(jobs: dict[str, dict[str, Any]]) -> None:
    auth = jobs["admin"].get("authorization", {})
    assert auth.get("credentials_file"), "the admin's /metrics needs the bearer token off loopback"


def test_account_workers_are_left_to_the_watchdog_and_found_by_its_label(
    services: dict[str, dict[str, Any]], jobs: dict[str, dict[str, Any]]
) -> None:
    listed = [n for n, s in services.items() if _command(s)[:2] == ["run", "bots"]]
    assert not listed, f"account workers are started by the watchdog, not listed: {listed}"
    watchdog = services["watchdog"]
    assert watchdog["environment"]["COOLTHING_WATCHDOG_RUNTIME"] == "docker"
    assert any(v.startswith("/var/run/docker.sock:") for v in watchdog["volumes"]), (
        "the watchdog needs the Docker socket to start workers"
    )
    sd = jobs["bots"]["docker_sd_configs"][0]
    assert {"name": "label", "values": ["coolthing.account"]} in sd["filters"], (
        "workers are found by the watchdog's coolthing.account label"
    )


def test_data_services_have_health_checks_and_every_service_waits_for_them_and_migrate(
    services: dict[str, dict[str, Any]],
) -> None:
    for infra in ("postgres", "rabbitmq"):
        assert services[infra].get("healthcheck", {}).get("test"), f"{infra} has no health check"
    assert _command(services["migrate"]) == ["migrate"]
    assert services["migrate"]["restart"] == "no", "migrate is a one-shot"
    for name in sorted(code_services()):
        after = services[name]["depends_on"]
        assert after.get("postgres", {}).get("condition") == "service_healthy", name
        assert after.get("rabbitmq", {}).get("condition") == "service_healthy", name
        assert after.get("migrate", {}).get("condition") == "service_completed_successfully", (
            f"{name} must start after the migration finished"
        )


def test_one_image_built_from_the_repository(services: dict[str, dict[str, Any]]) -> None:
    images = {services[name]["image"] for name in code_services() | {"migrate"}}
    assert images == {"coolthing:latest"}, f"one image for every service, found {images}"
    assert services["admin"]["build"]["dockerfile"] == "compose/Dockerfile"


def test_rabbitmq_queue_depths_are_scraped_from_its_plugin(jobs: dict[str, dict[str, Any]]) -> None:
    assert _targets(jobs["rabbitmq"]) == ["rabbitmq:15692"]
    assert jobs["rabbitmq-queues"]["metrics_path"] == "/metrics/per-object", (
        "per-queue depths need the plugin's per-object metrics"
    )


def _required_variables() -> set[str]:
    return set(re.findall(r"\$\{(\w+):\?", COMPOSE_FILE.read_text()))


def test_every_secret_the_compose_file_needs_is_listed_in_env_example() -> None:
    listed = set(re.findall(r"^(\w+)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))
    missing = sorted(_required_variables() - listed)
    assert not missing, f"compose/env.example does not list: {missing}"


def test_the_env_file_with_the_secrets_is_not_committed() -> None:
    for secret in ("compose/.env", "compose/metrics_token", "compose/alertmanager/alerts_token"):
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", secret], cwd=ROOT, check=False
        ).returncode
        assert ignored == 0, f"git does not ignore {secret}: secrets could be committed"


def _compose_cli() -> list[str]:
    if (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if os.environ.get("CI"):
        pytest.fail("no Compose CLI in CI: `make test` runs compose/ensure-tools.sh to install it")
    pytest.skip("no Compose CLI (docker compose / docker-compose): run compose/ensure-tools.sh")


def _filled_env(tmp_path: Path, *, leave_out: str | None = None) -> Path:
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            value = "" if name == leave_out else (value or "filled1")
            line = f"{name}={value}"
        lines.append(line)
    env = tmp_path / "env"
    env.write_text("\n".join(lines) + "\n")
    return env


def _config(tmp_path: Path, env: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_compose_cli(), "-f", str(COMPOSE_FILE), "--env-file", str(env), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},
    )


def test_compose_accepts_the_file_with_the_env_example_filled_in(tmp_path: Path) -> None:
    checked = _config(tmp_path, _filled_env(tmp_path))
    assert checked.returncode == 0, f"compose config refused the file:\n{checked.stderr}"


def test_compose_refuses_to_start_without_a_secret_and_names_it(tmp_path: Path) -> None:
    checked = _config(tmp_path, _filled_env(tmp_path, leave_out="COOLTHING_SECRET_KEY"))
    assert checked.returncode != 0, "an empty COOLTHING_SECRET_KEY must stop compose"
    assert "COOLTHING_SECRET_KEY" in checked.stderr, checked.stderr
