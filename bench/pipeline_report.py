"""The pipeline benchmark's table and final JSON line: throughput, latency and CPU per message."""

from __future__ import annotations

from collections.abc import Mapping

from bench.pipeline_cpu import (
    BACKGROUND,
    DRIVER_DB,
    OURS,
    Window,
    baseline_per_thousand,
    ours_per_thousand,
    ours_total,
)
from bench.pipeline_measure import Measurement
from bench.pipeline_world import ACCOUNTS, SEED, Setup

CPU_GOAL = 3.0  # our processes may spend at most this many times the direct path's CPU a message


def table(
    offered: float, seconds: float, warmup: float, setup: Setup, rows: dict[str, Measurement]
) -> str:
    lines = [
        f"parser pipeline: {len(setup.chat_ids)} chats, {ACCOUNTS} parser accounts, audience "
        f"seed {SEED}, offered {offered:,.0f} msg/s for {seconds:g} s (after a "
        f"{warmup:g} s warm-up); listeners: {setup.assignment}",
        "msg/s = messages / (first post → last lead hit); latency = seen_at − posted date_ts",
        f"{'path':<34}{'msg/s':>8}{'posted/s':>10}{'messages':>10}{'hits':>7}{'missing':>9}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}",
    ]
    for name, m in rows.items():
        worst = max(m.latencies_ms, default=float("nan"))
        lines.append(
            f"{name:<34}{m.rate:>8,.0f}{m.posted_rate:>10,.0f}{m.messages:>10,}{m.leads:>7,}"
            f"{m.missing:>9,}{m.percentile(50):>9.1f}{m.percentile(99):>9.1f}{worst:>9.1f}"
        )
    return "\n".join(lines)


def _row(label: str, window: Window, values: Mapping[str, float]) -> str:
    cells = "  ".join(f"{name} {value:.3f}" for name, value in values.items())
    return f"{label} ({window.seconds:.1f} s, {window.messages:,} messages): {cells}"


def cpu_table(ours: Window, base: Window, idle: Mapping[str, float]) -> str:
    """CPU per 1,000 messages (= ms per message) per process class, both paths."""
    ours_cpu = ours_per_thousand(ours, idle)
    raw = {name: ours.per_thousand(name, {}) for name in ("rabbitmq", "postgres", BACKGROUND)}
    idle_rabbit, idle_pg = idle.get("rabbitmq", 0.0), idle.get(BACKGROUND, 0.0)
    return "\n".join(
        [
            "CPU seconds per 1,000 messages offered (= ms a message), first post → last lead hit;"
            " utime+stime of each process, children excluded",
            _row("ours", ours, {**ours_cpu, "ours total": ours_total(ours_cpu)}),
            _row("direct", base, baseline_per_thousand(base, idle)),
            f"shared servers, ours before subtracting idle: rabbitmq node {raw['rabbitmq']:.3f},"
            f" bench-database backends {raw['postgres']:.3f}, postgres background"
            f" {raw[BACKGROUND]:.3f}; idle CPU s/s subtracted: rabbitmq"
            f" {idle_rabbit:.4f}, postgres background {idle_pg:.4f}; not counted: the bench's"
            f" own polling backend {ours.per_thousand(DRIVER_DB, {}):.3f} (ours),"
            f" {base.per_thousand(DRIVER_DB, {}):.3f} (direct)",
        ]
    )


def _rounded(values: Mapping[str, float]) -> dict[str, float]:
    return {name: round(value, 3) for name, value in values.items()}


def cpu_summary(ours: Window, base: Window, idle: Mapping[str, float]) -> dict[str, object]:
    ours_cpu = ours_per_thousand(ours, idle)
    base_cpu = baseline_per_thousand(base, idle)
    total = ours_total(ours_cpu)
    ratio = total / base_cpu["total"] if base_cpu["total"] > 0 else None
    return {
        "cpu_s_per_1000": _rounded(ours_cpu),
        "ours_cpu_s_per_1000": round(total, 3),
        "baseline_cpu_s_per_1000": _rounded(
            {name: base_cpu[name] for name in ("direct", "postgres", "total")}
        ),
        "cpu_ratio": round(ratio, 2) if ratio is not None else None,
        "cpu_goal_met": ratio is not None and ratio <= CPU_GOAL,
        "cpu_dominant": max(OURS, key=lambda name: ours_cpu[name]),
        "cpu_idle_s_per_s": _rounded(
            {"rabbitmq": idle.get("rabbitmq", 0.0), BACKGROUND: idle.get(BACKGROUND, 0.0)}
        ),
    }


def summary(
    offered: float, ours: Measurement, base: Measurement, idle: Mapping[str, float]
) -> dict[str, object]:
    p99 = ours.percentile(99)
    line: dict[str, object] = {
        "bench": "pipeline",
        "ours": round(ours.rate, 1),
        "baseline": round(base.rate, 1),
        "ratio": round(ours.rate / base.rate, 3) if base.rate else None,
        "unit": "msg/s",
        "offered": offered,
        "messages": ours.messages,
        "leads": ours.leads,
        "p50_ms": round(ours.percentile(50), 1),
        "p99_ms": round(p99, 1),
        "baseline_p50_ms": round(base.percentile(50), 1),
        "baseline_p99_ms": round(base.percentile(99), 1),
        "goal_met": ours.rate >= 0.95 * offered and p99 < 50 and ours.missing == 0,
    }
    if ours.cpu is not None and base.cpu is not None:
        line.update(cpu_summary(ours.cpu, base.cpu, idle))
    return line
