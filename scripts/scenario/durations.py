"""Durations as an admin writes them: ``20s``, ``1m30s``, ``1.5s``, ``500ms``, ranges ``20-90s``."""

from __future__ import annotations

import re

MAX_SECONDS = 24 * 3600.0
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_RANK = {"h": 0, "m": 1, "s": 2, "ms": 3}
# "ms" before "m" so that 500ms is not read as 500 minutes followed by garbage.
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|h|m|s)?")
_MAX_DIGITS = 12  # a longer number is a typo, and would make float() slow or infinite


class DurationError(ValueError):
    """``offset``: 0-based position in the text given; ``reason``: for a person."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(offset, reason)
        self.offset = offset
        self.reason = reason


def format_seconds(seconds: float) -> str:
    """The short form an admin would write: 90 → ``1m30s``, 0.5 → ``500ms``."""
    if seconds < 1 and seconds != 0:
        return f"{seconds * 1000:g}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours:g}h" if hours else "", f"{minutes:g}m" if minutes else ""]
    if secs or not (hours or minutes):
        parts.append(f"{round(secs, 3):g}s")
    return "".join(parts)


def parse_duration(text: str, *, bare_unit: str | None = None) -> float:
    """Seconds in ``text``; ``bare_unit`` is the unit of a lone unitless number (a range's low)."""
    seconds, _ = _parse(text, bare_unit)
    _check_bound(seconds, 0)
    return seconds


def parse_range(text: str) -> tuple[float, float]:
    """``20s`` → (20, 20); ``20-90s`` → (20, 90); ``30s-2m`` → (30, 120)."""
    dash = text.find("-")
    if dash < 0:
        seconds = parse_duration(text)
        return seconds, seconds
    low_text, high_text = text[:dash], text[dash + 1 :]
    high_start = dash + 1 + (len(high_text) - len(high_text.lstrip()))
    try:
        high, last_unit = _parse(high_text.strip(), None)
    except DurationError as exc:
        raise DurationError(high_start + exc.offset, exc.reason) from None
    low = parse_duration(low_text.rstrip(), bare_unit=last_unit)
    _check_bound(high, high_start)
    if low > high:
        raise DurationError(
            0,
            f"the pause runs from {format_seconds(low)} to {format_seconds(high)}: "
            "write the shorter one first",
        )
    return low, high


def _check_bound(seconds: float, offset: int) -> None:
    if seconds > MAX_SECONDS:
        raise DurationError(offset, f"{format_seconds(seconds)} is too long: at most 24h")


def _parse(text: str, bare_unit: str | None) -> tuple[float, str]:
    """Seconds and the unit of the last part."""
    if not text:
        raise DurationError(0, "a duration is missing: write e.g. 20s, 2m, 1h or 500ms")
    total, position, last_rank, last_unit = 0.0, 0, -1, "s"
    while position < len(text):
        part = _PART.match(text, position)
        if part is None:
            raise DurationError(position, _unexpected(text[position]))
        number, unit = part.group(1), part.group(2)
        if len(number) > _MAX_DIGITS:
            raise DurationError(position, f"{number} is too large a number")
        if unit is None:
            if bare_unit is None or position or part.end() < len(text):
                raise DurationError(
                    position, f"{number} needs a unit: write {number}s, {number}m or {number}h"
                )
            unit = bare_unit
        if _RANK[unit] <= last_rank:
            raise DurationError(position, "write the parts from hours down to ms, each once: 1m30s")
        total += float(number) * _UNITS[unit]
        position, last_rank, last_unit = part.end(), _RANK[unit], unit
    return total, last_unit


def _unexpected(char: str) -> str:
    if char.isspace():
        return "no spaces inside a duration: write 1m30s"
    return f"unexpected {char!r} in a duration: write e.g. 20s, 1m30s, 1.5s or 500ms"
