"""Backoff and quarantine decisions, and how an exit is judged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

from bots.exit_codes import EXIT_ACCOUNT_UNUSABLE
from watchdog.backoff import BackoffPolicy, after_crash
from watchdog.ledger import exit_reason
from watchdog.runtimes.base import WorkerExit

POLICY = BackoffPolicy(base=10, cap=300, reset_after=600, quarantine_crashes=5)
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _crash(restarts: int, *, ran: float = 1.0, crash_times: list[datetime] | None = None) -> float:
    verdict = after_crash(
        POLICY,
        now=NOW,
        started_at=NOW - timedelta(seconds=ran),
        restarts=restarts,
        crash_times=crash_times or [],
        rand=lambda: 0.0,
    )
    return (verdict.next_start_at - NOW).total_seconds()


def test_the_first_restart_after_a_crash_is_immediate() -> None:
    assert _crash(0) == 0


def test_later_restarts_double_from_the_base_up_to_the_cap() -> None:
    assert [_crash(n) for n in (1, 2, 3, 4, 5, 6, 20)] == [10, 20, 40, 80, 160, 300, 300]


def test_jitter_only_shortens_a_delay_by_at_most_its_share() -> None:
    delays = {POLICY.delay(3, partial(float, r)) for r in (0.0, 0.5, 0.999)}
    assert all(40 * (1 - POLICY.jitter) <= d <= 40 for d in delays)
    assert len(delays) == 3


def test_a_worker_healthy_for_the_reset_time_starts_again_from_immediate() -> None:
    assert _crash(6, ran=601) == 0
    assert _crash(6, ran=599) == 300


def test_crashes_within_the_window_quarantine_and_older_ones_are_forgotten() -> None:
    recent = [NOW - timedelta(seconds=s) for s in (10, 20, 30, 40)]
    verdict = after_crash(POLICY, now=NOW, started_at=NOW, restarts=4, crash_times=recent)
    assert verdict.quarantined and len(verdict.crash_times) == 5
    old = [NOW - timedelta(seconds=POLICY.quarantine_window + s) for s in (1, 2, 3, 4)]
    verdict = after_crash(POLICY, now=NOW, started_at=NOW, restarts=4, crash_times=old)
    assert not verdict.quarantined and verdict.crash_times == [NOW]


def _ended(code: int | None, *, oom: bool = False) -> WorkerExit:
    return WorkerExit(account_id=1, instance="i", exit_code=code, oom_killed=oom, log_tail="")


def test_a_lost_account_is_not_a_crash_whatever_the_exit_code() -> None:
    def judged(code: int, status: str) -> str:
        return exit_reason(_ended(code), status=status, requested=False, hung=False)

    assert judged(EXIT_ACCOUNT_UNUSABLE, "active") == "account_unusable"
    assert judged(EXIT_ACCOUNT_UNUSABLE, "banned") == "account_banned"
    assert judged(0, "revoked") == "account_revoked"  # stopped by us after the worker saw it
    assert judged(1, "paused") == "account_paused"


def test_exits_are_told_apart() -> None:
    def judged(code: int | None, **kw: bool) -> str:
        flags = {"requested": False, "hung": False, **kw}
        oom = flags.pop("oom", False)
        return exit_reason(_ended(code, oom=oom), status="active", **flags)

    assert judged(0, requested=True) == "stopped"
    assert judged(137, requested=True, hung=True) == "hung"
    assert judged(137, oom=True) == "oom"
    assert judged(0) == "exited"
    assert judged(1) == "crash"
    assert judged(137) == "crash"
