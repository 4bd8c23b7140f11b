"""bench.pipeline's CPU accounting: what /proc says, which process is whose, and the per-1,000
figures of the final line."""

from __future__ import annotations

import os
import threading

import pytest

from bench.pipeline_cpu import (
    BACKGROUND,
    PROC,
    Window,
    baseline_per_thousand,
    listening_inodes,
    ours_per_thousand,
    postgres_class,
    read_cpu,
    stat_cpu,
    stat_ppid,
    window_cpu,
)
from bench.pipeline_measure import Measurement
from bench.pipeline_report import cpu_summary, summary

# A real line's shape: the command in parentheses may itself hold spaces and parentheses.
STAT = (
    "4242 (python (x) y) S 4000 4242 4000 0 -1 4194560 900 0 0 0 "
    "250 75 3 4 20 0 1 0 100 1000000 500 18446744073709551615"
)


def test_utime_and_stime_are_read_after_a_command_with_spaces_and_parentheses() -> None:
    assert stat_cpu(STAT, ticks=100) == pytest.approx(3.25)  # (250 + 75) ticks, children's not
    assert stat_ppid(STAT) == 4000


def test_this_process_and_thread_read_their_own_cpu_from_proc() -> None:
    me = read_cpu(PROC / str(os.getpid()) / "stat")
    thread = read_cpu(PROC / str(os.getpid()) / "task" / str(threading.get_native_id()) / "stat")
    assert me is not None and thread is not None and 0 <= thread <= me
    assert read_cpu(PROC / "999999999" / "stat") is None


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("postgres: 15/main: coolthing coolthing_bench 127.0.0.1(41234) idle\0", "postgres"),
        ("postgres: coolthing coolthing_bench [local] SELECT", "postgres"),
        ("postgres: 15/main: coolthing coolthing_h3 127.0.0.1(41236) INSERT", None),
        ("postgres: 15/main: walwriter ", BACKGROUND),
        ("postgres: 15/main: autovacuum worker coolthing_bench", BACKGROUND),
        ("/usr/lib/postgresql/15/bin/postgres\0-D\0/var/lib/postgresql/15/main", BACKGROUND),
    ],
)
def test_postgres_processes_are_the_bench_databases_backends_background_or_not_counted(
    title: str, expected: str | None
) -> None:
    assert postgres_class(title, "coolthing_bench") == expected


def test_only_the_socket_listening_on_the_port_is_the_servers() -> None:
    table = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 0100007F:1628 00000000:0000 0A 00000000:00000000 00:00000000 00000000   "
        "107        0 31337 1 0000000000000000 100 0 0 10 0\n"
        "   1: 0100007F:9C40 0100007F:1628 01 00000000:00000000 00:00000000 00000000     "
        "0        0 4444 1 0000000000000000 20 4 30 10 -1\n"
    )
    assert listening_inodes(5672, [table]) == {"31337"}  # 0x1628; the client's socket is not
    assert listening_inodes(5432, [table]) == set()


def test_a_process_new_in_the_window_counts_from_zero_and_classes_add_up() -> None:
    start = {("workers", 1): 10.0, ("workers", 2): 5.0, ("postgres", 7): 1.0}
    end = {("workers", 1): 10.5, ("workers", 2): 5.25, ("postgres", 7): 1.5, ("postgres", 8): 0.5}
    assert window_cpu(start, end) == {"workers": 0.75, "postgres": 1.0}


def test_shared_servers_lose_their_idle_rate_and_never_go_below_zero() -> None:
    window = Window(
        {"rabbitmq": 3.0, BACKGROUND: 0.1, "postgres": 1.0}, seconds=10, messages=10_000
    )
    idle = {"rabbitmq": 0.1, BACKGROUND: 0.05}
    cpu = ours_per_thousand(window, idle)
    assert cpu["rabbitmq"] == pytest.approx(0.2)  # (3.0 − 0.1 × 10) / 10
    assert cpu["postgres"] == pytest.approx(0.1)  # backends 1.0 + background max(0.1 − 0.5, 0)
    assert cpu["workers"] == 0.0 and set(cpu) == {
        "workers",
        "parser",
        "rabbitmq",
        "postgres",
        "sandbox",
        "load",
    }


def test_the_final_line_compares_our_processes_with_the_direct_path_and_its_database() -> None:
    ours = Window(
        {"workers": 8.0, "parser": 6.0, "rabbitmq": 4.0, "postgres": 2.0, "sandbox": 3.0},
        seconds=10,
        messages=10_000,
    )
    base = Window({"direct": 2.0, "postgres": 1.0, "load": 0.5}, seconds=10, messages=10_000)
    line = cpu_summary(ours, base, {})
    assert line["cpu_s_per_1000"] == {
        "workers": 0.8,
        "parser": 0.6,
        "rabbitmq": 0.4,
        "postgres": 0.2,
        "sandbox": 0.3,
        "load": 0.0,
    }
    assert line["ours_cpu_s_per_1000"] == 2.0  # the sandbox and the driver are not ours
    assert line["baseline_cpu_s_per_1000"] == {"direct": 0.2, "postgres": 0.1, "total": 0.3}
    assert line["cpu_ratio"] == pytest.approx(6.67, abs=0.01)
    assert line["cpu_goal_met"] is False
    assert line["cpu_dominant"] == "workers"
    assert baseline_per_thousand(base, {})["load"] == pytest.approx(0.05)


def test_within_three_times_the_direct_paths_cpu_meets_the_goal() -> None:
    ours = Window({"workers": 3.0, "parser": 3.0}, seconds=10, messages=10_000)
    base = Window({"direct": 1.5, "postgres": 0.5}, seconds=10, messages=10_000)
    line = cpu_summary(ours, base, {})
    assert line["cpu_ratio"] == 3.0 and line["cpu_goal_met"] is True


def test_the_final_line_keeps_its_throughput_fields_and_adds_cpu_when_measured() -> None:
    window = Window({"workers": 1.0, "direct": 1.0}, seconds=10, messages=1_000)
    ours = Measurement(1_000, 100, 0, 0, 1.0, 1.0, [5.0, 10.0, 20.0], cpu=window)
    base = Measurement(1_000, 100, 0, 0, 1.0, 1.0, [1.0, 2.0], cpu=window)
    line = summary(1_000, ours, base, {})
    assert line["goal_met"] is True and line["ours"] == 1_000.0 and line["p99_ms"] == 19.8
    assert line["cpu_ratio"] == 1.0
    unmeasured = summary(1_000, Measurement(1_000, 100, 0, 0, 1.0, 1.0, [5.0]), base, {})
    assert "cpu_ratio" not in unmeasured and unmeasured["ours"] == 1_000.0
