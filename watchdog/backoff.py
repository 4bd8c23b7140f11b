"""When a crashed worker may start again, and when an account has crashed too often.

Exponential backoff with jitter and a cap: the first restart after a crash is immediate (most
crashes are one-offs: a dropped connection, a killed process), the next ones wait base, 2×base,
4×base … up to the cap. A worker that ran healthy for ``reset_after`` starts over from
"immediate". ``quarantine_crashes`` crashes within ``quarantine_window`` stop the restarts until
an operator acts: a crash loop would otherwise hammer Telegram with logins.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class BackoffPolicy:
    base: float = 10.0
    cap: float = 300.0
    reset_after: float = 600.0
    quarantine_crashes: int = 5
    quarantine_window: float = 900.0
    jitter: float = 0.2  # a delay is cut by up to this share, so restarts do not line up

    def delay(self, restarts: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds before the restart that follows ``restarts`` earlier ones since health."""
        if restarts <= 0:
            return 0.0
        full = min(self.cap, self.base * 2.0 ** min(restarts - 1, 32))
        return float(full * (1 - self.jitter * rand()))


@dataclass(frozen=True)
class CrashVerdict:
    restarts: int  # restarts since the last healthy run, this one included
    crash_times: list[datetime]  # crashes within the quarantine window, this one included
    next_start_at: datetime
    quarantined: bool


def after_crash(
    policy: BackoffPolicy,
    *,
    now: datetime,
    started_at: datetime | None,
    restarts: int,
    crash_times: list[datetime],
    rand: Callable[[], float] = random.random,
) -> CrashVerdict:
    healthy = started_at is not None and (now - started_at).total_seconds() >= policy.reset_after
    if healthy:
        restarts = 0
    window_start = now - timedelta(seconds=policy.quarantine_window)
    recent = [t for t in crash_times if t >= window_start] + [now]
    return CrashVerdict(
        restarts=restarts + 1,
        crash_times=recent,
        next_start_at=now + timedelta(seconds=policy.delay(restarts, rand)),
        quarantined=len(recent) >= policy.quarantine_crashes,
    )
