"""When may an account send its next new DM? Caps, warm-up, jitter and quiet hours, as arithmetic.

Pure functions over explicit inputs: no clock is read here, every moment comes in as an aware
``datetime`` and every moment that goes out is in UTC. That keeps the rules testable across days,
time zones and DST changes, and lets the caller (the manager) own the clock and the RNG.

Rules:

- quiet hours are a wall-clock window ``[start, end)`` in the campaign's time zone, which may cross
  midnight; a wall-clock edge that does not exist on a DST change day (spring forward) resolves to
  the later instant, so a send is never pushed *into* the quiet window; one that happens twice (fall
  back) resolves to the first occurrence still ahead;
- day boundaries (for ``new_dms_per_day``) are local midnights in the quiet-hours time zone, or UTC
  when there are no quiet hours; every day's count counts, so a backlog fills the days in turn;
- the warm-up ramp is counted in whole 24-hour periods since the account was created, and the
  allowance of a local day is the ramp value at that day's start, so it does not change mid-day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PER_MINUTE_WINDOW = timedelta(seconds=60)
# A full day costs one step and a quiet push another: a backlog of a year still settles; the bound
# only guards bugs.
_MAX_STEPS = 800


def _require_aware(name: str, moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {moment!r}")


def load_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``, or a ValueError naming it (instead of zoneinfo's KeyError)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown IANA time zone {name!r}") from error


def local_instant(
    day: date, wall: time, zone: ZoneInfo, *, after: datetime | None = None
) -> datetime:
    """The UTC instant at which ``zone``'s clock shows ``wall`` on ``day``.

    In a DST gap the wall time does not exist: take the later reading (the old offset
    continued), never the earlier one, which would fall before the gap. In a fold it exists
    twice: take the first occurrence that is after ``after`` (or the first one).
    """
    first = datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)
    second = datetime.combine(day, wall, tzinfo=zone).replace(fold=1).astimezone(UTC)
    if first == second:
        return first
    in_gap = first.astimezone(zone).time() != wall
    if in_gap:
        return max(first, second)
    earlier, later = sorted((first, second))
    return earlier if after is None or earlier > after else later


def day_start(moment: datetime, zone: ZoneInfo) -> datetime:
    """Start (UTC) of the local day in ``zone`` that contains ``moment``."""
    return local_instant(moment.astimezone(zone).date(), time(0), zone)


def next_day_start(moment: datetime, zone: ZoneInfo) -> datetime:
    """Start (UTC) of the local day in ``zone`` after the one containing ``moment``."""
    tomorrow = moment.astimezone(zone).date() + timedelta(days=1)
    return local_instant(tomorrow, time(0), zone)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """No sends while the campaign's local clock is in ``[start, end)``; may cross midnight."""

    start: time
    end: time
    tz: str

    def __post_init__(self) -> None:
        load_zone(self.tz)
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours are wall-clock times: pass naive start and end")
        if self.start == self.end:
            raise ValueError(
                f"quiet hours start and end are both {self.start}; pass quiet=None for none"
            )

    @property
    def zone(self) -> ZoneInfo:
        return load_zone(self.tz)

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start

    def is_quiet(self, moment: datetime) -> bool:
        """True when the local wall clock at ``moment`` is inside the window."""
        _require_aware("moment", moment)
        wall = moment.astimezone(self.zone).time().replace(tzinfo=None)
        if self.crosses_midnight:
            return wall >= self.start or wall < self.end
        return self.start <= wall < self.end

    def next_allowed(self, now: datetime) -> datetime:
        """``now`` (in UTC) if outside the window, else the instant (UTC) the window ends."""
        _require_aware("now", now)
        if not self.is_quiet(now):
            return now.astimezone(UTC)
        local = now.astimezone(self.zone)
        end_day = local.date()
        if self.crosses_midnight and local.time().replace(tzinfo=None) >= self.start:
            end_day += timedelta(days=1)
        return local_instant(end_day, self.end, self.zone, after=now)


@dataclass(frozen=True, slots=True)
class AccountCaps:
    """Per-account limits; the warm-up ramp keeps a fresh account from looking like a spammer."""

    new_dms_per_day: int
    messages_per_minute: int
    warmup_days: int = 0
    warmup_start_dms: int = 1

    def __post_init__(self) -> None:
        if self.new_dms_per_day < 1:
            raise ValueError(f"new_dms_per_day must be at least 1, got {self.new_dms_per_day}")
        if self.messages_per_minute < 1:
            raise ValueError(
                f"messages_per_minute must be at least 1, got {self.messages_per_minute}"
            )
        if self.warmup_days < 0:
            raise ValueError(f"warmup_days must not be negative, got {self.warmup_days}")
        if not 1 <= self.warmup_start_dms <= self.new_dms_per_day:
            raise ValueError(
                f"warmup_start_dms must be between 1 and new_dms_per_day "
                f"({self.new_dms_per_day}), got {self.warmup_start_dms}"
            )


def new_dm_allowance(caps: AccountCaps, account_created_at: datetime, now: datetime) -> int:
    """New DMs a day the account may send at ``now``: a linear ramp, rounded down to stay safe.

    Day ``d`` is the number of whole 24-hour periods since creation (0 before that);
    ``warmup_start_dms`` on day 0, ``new_dms_per_day`` from day ``warmup_days`` on.
    """
    _require_aware("account_created_at", account_created_at)
    _require_aware("now", now)
    age_days = max(0, (now - account_created_at) // timedelta(days=1))
    if age_days >= caps.warmup_days:
        return caps.new_dms_per_day
    span = caps.new_dms_per_day - caps.warmup_start_dms
    return caps.warmup_start_dms + span * age_days // caps.warmup_days


def _after_gap(
    candidate: datetime,
    recent: Sequence[datetime],
    *,
    jitter: float,
    min_gap_seconds: float,
    max_gap_seconds: float,
) -> datetime:
    if not recent:
        return candidate
    gap = min_gap_seconds + jitter * (max_gap_seconds - min_gap_seconds)
    return max(candidate, max(recent) + timedelta(seconds=gap))


def _after_minute_cap(candidate: datetime, recent: Sequence[datetime], cap: int) -> datetime:
    """Fewer than ``cap`` sends in ``(t - 60 s, t]``: wait until the cap-th latest send ages out."""
    if len(recent) < cap:
        return candidate
    blocking = sorted(recent)[-cap]
    return max(candidate, blocking + PER_MINUTE_WINDOW)


def _validate_send_inputs(
    *,
    now: datetime,
    new_dms_by_day: Mapping[datetime, int],
    recent_send_times: Sequence[datetime],
    account_created_at: datetime,
    jitter: float,
    min_gap_seconds: float,
    max_gap_seconds: float,
) -> None:
    _require_aware("now", now)
    _require_aware("account_created_at", account_created_at)
    for moment in recent_send_times:
        _require_aware("recent_send_times item", moment)
    for day, count in new_dms_by_day.items():
        _require_aware("new_dms_by_day key", day)
        if count < 0:
            raise ValueError(f"new DMs on {day.isoformat()} must not be negative, got {count}")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter must be in [0, 1], got {jitter}")
    if not 0 <= min_gap_seconds <= max_gap_seconds:
        raise ValueError(
            f"need 0 <= min_gap_seconds <= max_gap_seconds, got {min_gap_seconds}, "
            f"{max_gap_seconds}"
        )


def next_send_time(
    *,
    now: datetime,
    new_dms_by_day: Mapping[datetime, int],
    recent_send_times: Sequence[datetime],
    caps: AccountCaps,
    quiet: QuietHours | None,
    account_created_at: datetime,
    jitter: float,
    min_gap_seconds: float,
    max_gap_seconds: float,
) -> datetime:
    """Earliest instant (UTC) the account may send a new DM under every rule at once.

    ``new_dms_by_day`` counts the new DMs already sent or planned on each local day, keyed by the
    day's start (``day_start`` in the quiet-hours zone, or UTC): a day that is full pushes the send
    to the next day with room, so a backlog spreads over the days instead of piling up on the next
    midnight. ``recent_send_times`` are the account's sends, done or planned (any message), used
    for the gap and the per-minute cap; ``jitter`` comes from the caller's RNG so this stays
    deterministic.
    """
    _validate_send_inputs(
        now=now,
        new_dms_by_day=new_dms_by_day,
        recent_send_times=recent_send_times,
        account_created_at=account_created_at,
        jitter=jitter,
        min_gap_seconds=min_gap_seconds,
        max_gap_seconds=max_gap_seconds,
    )
    zone = quiet.zone if quiet is not None else ZoneInfo("UTC")
    candidate = _after_gap(
        now.astimezone(UTC),
        recent_send_times,
        jitter=jitter,
        min_gap_seconds=min_gap_seconds,
        max_gap_seconds=max_gap_seconds,
    )
    candidate = _after_minute_cap(candidate, recent_send_times, caps.messages_per_minute)
    for _ in range(_MAX_STEPS):
        its_day = day_start(candidate, zone)
        sent = new_dms_by_day.get(its_day, 0)
        if sent >= new_dm_allowance(caps, account_created_at, its_day):
            candidate = next_day_start(candidate, zone)
        elif quiet is not None and quiet.is_quiet(candidate):
            candidate = quiet.next_allowed(candidate)
        else:
            return candidate.astimezone(UTC)
    raise RuntimeError(f"no send time settled after {_MAX_STEPS} steps from {now.isoformat()}")
