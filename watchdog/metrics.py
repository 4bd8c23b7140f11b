"""Prometheus metrics of the watchdog (names are referenced by dashboards: keep them)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

# Exposed as coolthing_watchdog_worker_restarts_total{reason=...}.
WORKER_RESTARTS = Counter(
    "coolthing_watchdog_worker_restarts",
    "Workers (re)started by the watchdog after an exit, by reason.",
    ["reason"],
)

# state: running | backoff | quarantined | stopped.
WORKERS = Gauge(
    "coolthing_watchdog_workers",
    "Workers known to the watchdog, by state.",
    ["state"],
)

# Exposed as coolthing_watchdog_quarantined_total.
QUARANTINED = Counter(
    "coolthing_watchdog_quarantined",
    "Accounts quarantined after too many crashes in the window.",
)

WORKER_STATES = ("running", "backoff", "quarantined", "stopped")
