"""Each account's rate budget: a minimum gap between its lines and a cap per rolling hour."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

_HOUR = 3600.0
_MAX_GAP_PROBLEMS = 10  # per account: past that, the scene's pace is the problem, not a line


@dataclass(frozen=True, slots=True)
class Budget:
    min_gap: float = 3.0  # seconds between one account's lines
    per_hour: int = 40  # lines per account in any rolling hour


@dataclass(frozen=True, slots=True)
class Send:
    account: str
    line: int
    at: float  # seconds from the start, when the line is sent


def budget_problems(sends: Sequence[Send], budget: Budget, time_scale: float = 1.0) -> list[str]:
    """Every line sent too soon after the account's previous one, and the first moment each
    account goes over its hourly cap. Times are scaled by ``time_scale``, so is the budget."""
    by_account: dict[str, list[Send]] = {}
    for send in sends:
        by_account.setdefault(send.account, []).append(send)
    problems: list[str] = []
    for account, own in by_account.items():
        problems += _gaps(account, own, budget.min_gap * time_scale, time_scale)
        problems += _hourly(account, own, budget.per_hour, _HOUR * time_scale)
    return problems


def _gaps(account: str, sends: Sequence[Send], min_gap: float, scale: float) -> list[str]:
    problems = []
    for before, send in zip(sends, sends[1:], strict=False):
        gap = send.at - before.at
        if gap < min_gap:
            problems.append(
                f"{account}: line {send.line} is sent {gap / scale:.1f}s after its line "
                f"{before.line}; the budget is at least {min_gap / scale:g}s between lines"
            )
    if len(problems) > _MAX_GAP_PROBLEMS:
        more = len(problems) - _MAX_GAP_PROBLEMS
        summary = f"{account}: {more} more lines too close to the previous one"
        return [*problems[:_MAX_GAP_PROBLEMS], summary]
    return problems


def _hourly(account: str, sends: Sequence[Send], cap: int, hour: float) -> list[str]:
    start = 0
    for end, send in enumerate(sends):
        while send.at - sends[start].at >= hour:
            start += 1
        if end - start + 1 > cap:
            return [
                f"{account}: line {send.line} is its {end - start + 1}th line within an hour; "
                f"the budget is {cap} an hour"
            ]
    return []
