"""Observability as code (compose/prometheus, alertmanager, grafana, fluent-bit) says only what the
code can back: every metric a dashboard or an alert names is exported by some module, every
query is valid PromQL, the configuration passes Prometheus' and Alertmanager's own checkers, the
dashboards load (valid JSON, unique uids, a provisioned data source on every panel), and logs
reach Loki labelled by service and level only (test_observability_signals: what fills them)."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose"
PROMETHEUS_DIR = COMPOSE / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
DASHBOARDS = sorted((COMPOSE / "grafana" / "dashboards").glob("*.json"))
DATASOURCES = COMPOSE / "grafana" / "provisioning" / "datasources" / "datasources.yml"
ALERTMANAGER = COMPOSE / "alertmanager" / "alertmanager.yml"
FLUENT_BIT = COMPOSE / "fluent-bit" / "fluent-bit.conf"
CODE = (
    "admin",
    "bots",
    "core",
    "coolthing",
    "manager",
    "notifier",
    "parser",
    "scripts",
    "watchdog",
)

# Metrics that no module of ours defines but that are there all the same: Prometheus' own `up`,
# prometheus_client's process collector, and what RabbitMQ's plugin exports.
NOT_OURS = {
    "up",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
    "rabbitmq_queue_messages",
    "rabbitmq_queue_messages_ready",
    "rabbitmq_queue_messages_unacked",
    "rabbitmq_queue_consumers",
    "rabbitmq_global_messages_received_total",
    "rabbitmq_global_messages_routed_total",
    "rabbitmq_global_messages_delivered_total",
    "rabbitmq_global_messages_acknowledged_total",
    "rabbitmq_global_messages_redelivered_total",
}
SUFFIXES = {
    "Counter": ("_total", "_created"),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_sum", "_count", "_created"),
    "Summary": ("", "_sum", "_count", "_created"),
    "Info": ("_info",),
    "Enum": ("",),
}
# What the issue asks the dashboards and alerts to show, by the metric that shows it.
REQUIRED_ON_DASHBOARDS = {
    "leads found": "coolthing_parser_leads_total",
    "first DMs sent": "coolthing_outreach_first_dms_total",
    "replies": "coolthing_outreach_replies_total",
    "opt-outs": "coolthing_outreach_opt_outs_total",
    "FloodWait seconds": "coolthing_telegram_flood_wait_seconds_total",
    "PeerFlood events": "coolthing_telegram_peer_floods_total",
    "the daily cap": "coolthing_outreach_daily_cap",
    "sends against the cap": "coolthing_outreach_first_dms_planned_today",
    "queue depths": "rabbitmq_queue_messages_ready",
    "worker restarts": "coolthing_watchdog_worker_restarts_total",
    "service up": "up",
    "CPU per service": "process_cpu_seconds_total",
    "memory per service": "process_resident_memory_bytes",
}
REQUIRED_ALERTS = {
    "ServiceDown",
    "WorkerCrashLoop",
    "QueueBacklog",
    "DeadLettersGrowing",
    "PeerFloodSpike",
}
LOKI_LABELS = {"job", "service", "level"}


# --- what the code exports ------------------------------------------------------------------


def exported_metrics() -> set[str]:
    """Every series name the code's prometheus_client metrics export, read from the source
    (``Counter("name", …)`` and aliases such as ``Counter as Metric``)."""
    names: set[str] = set()
    for package in CODE:
        for path in (ROOT / package).rglob("*.py"):
            names |= _metrics_in(ast.parse(path.read_text(), str(path)))
    return names


def _metrics_in(tree: ast.Module) -> set[str]:
    kinds = {
        alias.asname or alias.name: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "prometheus_client"
        for alias in node.names
        if alias.name in SUFFIXES
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
            continue
        kind, first = kinds.get(node.func.id), node.args[0]
        if kind and isinstance(first, ast.Constant) and isinstance(first.value, str):
            base = first.value.removesuffix("_total") if kind == "Counter" else first.value
            names |= {base + suffix for suffix in SUFFIXES[kind]}
    return names


# --- what the files name --------------------------------------------------------------------

_STRING = re.compile(r'"(?:\\.|[^"\\])*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"bool", "and", "or", "unless", "offset", "inf", "nan"}


def promql_metrics(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not its functions, labels or keywords)."""
    bare = _GROUPING.sub("", _RANGE.sub("", _MATCHERS.sub("", _STRING.sub('""', expr))))
    names = set()
    for match in _IDENT.finditer(bare):
        follows = bare[match.end() :].lstrip()
        if not follows.startswith("(") and match.group().lower() not in _KEYWORDS:
            names.add(match.group())
    return names


def _load_yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict), f"{path} is not a YAML mapping"
    return loaded


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in DASHBOARDS}


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # a collapsed row holds its panels


def prometheus_queries() -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every dashboard target on Prometheus and every alert rule."""
    for name, board in dashboards().items():
        for panel in panels(board):
            for target in panel.get("targets", []):
                if (
                    target.get("datasource", panel.get("datasource", {})).get("type")
                    == "prometheus"
                ):
                    yield f"{name}: panel {panel['title']!r}", target["expr"]
    for rule_file in RULE_FILES:
        for group in _load_yaml(rule_file)["groups"]:
            for rule in group["rules"]:
                yield f"{rule_file.name}: {rule.get('alert') or rule.get('record')}", rule["expr"]


def alert_rules() -> dict[str, dict[str, Any]]:
    return {
        rule["alert"]: rule
        for rule_file in RULE_FILES
        for group in _load_yaml(rule_file)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def _grafana_vars(expr: str) -> str:
    return expr.replace("$__range", "1h").replace("$account", ".*")


# --- tools ------------------------------------------------------------------------------------


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(
                f"{name} is missing in CI: `make test` installs it (compose/ensure-tools.sh)"
            )
        pytest.skip(f"{name} is not installed: compose/ensure-tools.sh installs it")
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)


# --- metrics --------------------------------------------------------------------------------


def test_the_metric_parser_finds_names_and_skips_functions_labels_and_keywords() -> None:
    expr = (
        'sum by (queue) (rate(rabbitmq_queue_messages{queue=~".+\\\\.dlq"}[5m])) / '
        "clamp_min(sum(up == bool 1) or vector(0), 1) unless on (job) process_start_time_seconds"
    )
    assert promql_metrics(expr) == {
        "rabbitmq_queue_messages",
        "up",
        "process_start_time_seconds",
    }


def test_the_code_exports_the_business_and_telegram_metrics() -> None:
    exported = exported_metrics()
    for what, metric in REQUIRED_ON_DASHBOARDS.items():
        if metric not in NOT_OURS:
            assert metric in exported, f"no module exports {metric} ({what})"


def test_every_metric_a_dashboard_or_alert_names_is_exported_by_the_code() -> None:
    known = exported_metrics() | NOT_OURS
    for where, expr in prometheus_queries():
        names = promql_metrics(expr)
        assert names, f"{where}: found no metric in {expr!r}"
        unknown = sorted(names - known)
        assert not unknown, f"{where} reads {unknown}, which no module of the code exports"


def test_dashboards_show_what_operators_need() -> None:
    shown = set().union(*(promql_metrics(expr) for _, expr in prometheus_queries()))
    missing = {
        what: metric for what, metric in REQUIRED_ON_DASHBOARDS.items() if metric not in shown
    }
    assert not missing, f"no dashboard or alert shows: {missing}"


def test_every_dashboard_and_alert_query_is_valid_promql(tmp_path: Path) -> None:
    promtool = tool("promtool")
    rules = [
        {"record": f"check:query_{n}", "expr": _grafana_vars(expr)}
        for n, (_, expr) in enumerate(prometheus_queries())
    ]
    checked = tmp_path / "queries.yml"
    checked.write_text(yaml.safe_dump({"groups": [{"name": "queries", "rules": rules}]}))
    result = run(promtool, "check", "rules", str(checked))
    assert result.returncode == 0, f"promtool refused a query:\n{result.stdout}{result.stderr}"


# --- Prometheus and Alertmanager ------------------------------------------------------------


def test_prometheus_config_passes_promtool_with_its_rules_and_token_in_place(
    tmp_path: Path,
) -> None:
    promtool = tool("promtool")
    shutil.copytree(PROMETHEUS_DIR, tmp_path / "prometheus")
    (tmp_path / "metrics_token").write_text("token\n")
    config = (PROMETHEUS_DIR / "prometheus.yml").read_text()
    config = config.replace("/etc/prometheus/", f"{tmp_path}/prometheus/")
    config = config.replace("/run/secrets/metrics_token", str(tmp_path / "metrics_token"))
    (tmp_path / "prometheus" / "prometheus.yml").write_text(config)
    result = run(promtool, "check", "config", str(tmp_path / "prometheus" / "prometheus.yml"))
    assert result.returncode == 0, f"promtool check config:\n{result.stdout}{result.stderr}"
    assert f"{len(alert_rules())} rules found" in result.stdout, result.stdout


def test_alert_rules_pass_promtool() -> None:
    promtool = tool("promtool")
    result = run(promtool, "check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, f"promtool check rules:\n{result.stdout}{result.stderr}"


def test_the_alerts_the_issue_asks_for_exist_and_say_what_and_why() -> None:
    rules = alert_rules()
    missing = sorted(REQUIRED_ALERTS - rules.keys())
    assert not missing, f"no alert rule named {missing}"
    for name, rule in rules.items():
        annotations = rule.get("annotations", {})
        for field in ("summary", "description"):
            assert annotations.get(field, "").strip(), f"alert {name} has no {field}"
        severity = rule.get("labels", {}).get("severity")
        assert severity in ("critical", "warning", "info"), f"alert {name}: severity {severity!r}"


def test_alertmanager_config_passes_amtool_and_sends_to_the_admins_alerts_endpoint() -> None:
    from fastapi.routing import APIRoute

    from admin.api.alerts import router
    from admin.app import API_PREFIX

    result = run(tool("amtool"), "check-config", str(ALERTMANAGER))
    assert result.returncode == 0, f"amtool check-config:\n{result.stdout}{result.stderr}"
    config = _load_yaml(ALERTMANAGER)
    receiver = next(r for r in config["receivers"] if r["name"] == config["route"]["receiver"])
    hook = receiver["webhook_configs"][0]
    posts = {
        API_PREFIX + route.path
        for route in router.routes
        if isinstance(route, APIRoute) and "POST" in (route.methods or set())
    }
    path = "/" + hook["url"].split("/", 3)[3]
    assert path in posts, f"Alertmanager posts to {path}, the admin takes alerts at {posts}"
    assert hook["http_config"]["authorization"]["credentials_file"], "the endpoint needs a token"


# --- Grafana --------------------------------------------------------------------------------


def test_dashboards_are_valid_json_with_unique_uids() -> None:
    assert DASHBOARDS, "no dashboards in compose/grafana/dashboards"
    uids: dict[str, str] = {}
    for name, board in dashboards().items():
        uid = board.get("uid")
        assert uid, f"{name} has no uid"
        assert uid not in uids, f"{name} and {uids[uid]} share the uid {uid!r}"
        uids[uid] = name
        ids = [panel["id"] for panel in panels(board)]
        assert len(ids) == len(set(ids)), f"{name}: two panels share an id"


def test_every_panel_and_query_names_a_provisioned_data_source() -> None:
    provisioned = {
        source["uid"]: source["type"] for source in _load_yaml(DATASOURCES)["datasources"]
    }
    assert set(provisioned.values()) >= {"prometheus", "loki"}
    for name, board in dashboards().items():
        for panel in panels(board):
            if panel["type"] == "row":
                continue
            where = f"{name}: panel {panel.get('title')!r}"
            source = panel.get("datasource") or {}
            assert provisioned.get(source.get("uid")) == source.get("type"), (
                f"{where} has no provisioned data source ({source})"
            )
            assert panel.get("targets"), f"{where} has no query"
            for target in panel["targets"]:
                own = target.get("datasource", source)
                assert provisioned.get(own.get("uid")) == own.get("type"), f"{where}: {own}"
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("type") == "query":
                uid = variable["datasource"]["uid"]
                assert uid in provisioned, f"{name}: variable {variable['name']} uses {uid!r}"


# --- logs -----------------------------------------------------------------------------------


def _fluent_bit_setting(key: str) -> str:
    found = re.search(rf"^\s*{key}\s+(.+)$", FLUENT_BIT.read_text(), flags=re.MULTILINE)
    assert found, f"{FLUENT_BIT.name} sets no {key}"
    return found.group(1).strip()


def test_logs_reach_loki_labelled_by_service_and_level_only() -> None:
    keys = {key.strip().lstrip("$") for key in _fluent_bit_setting("Label_keys").split(",")}
    fixed = {pair.split("=")[0].strip() for pair in _fluent_bit_setting("Labels").split(",")}
    assert keys | fixed <= LOKI_LABELS, (
        f"Loki labels {sorted(keys | fixed)}: ids belong in the JSON line, not in labels"
    )
    for name, board in dashboards().items():
        for panel in panels(board):
            for target in panel.get("targets", []):
                if target.get("datasource", {}).get("type") == "loki":
                    selector = re.match(r"\{([^}]*)\}", target["expr"])
                    assert selector, f"{name}: {target['expr']!r} has no stream selector"
                    labels = set(re.findall(r"(\w+)\s*[=!]", selector.group(1)))
                    assert labels <= LOKI_LABELS, f"{name}: Loki query on labels {labels}"
