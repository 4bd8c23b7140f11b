"""Pacing arithmetic: quiet hours, day allowance, warm-up, per-minute cap and jitter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from manager.pacing import (
    AccountCaps,
    QuietHours,
    day_start,
    new_dm_allowance,
    next_send_time,
)

MSK = ZoneInfo("Europe/Moscow")
NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
NIGHT_MSK = QuietHours(time(22), time(8), "Europe/Moscow")
NIGHT_NY = QuietHours(time(22), time(8), "America/New_York")
CAPS = AccountCaps(new_dms_per_day=50, messages_per_minute=3)
OLD_ACCOUNT = datetime(2025, 1, 1, tzinfo=UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def send_at(
    now: datetime,
    *,
    sent_today: int = 0,
    by_day: Mapping[datetime, int] | None = None,
    recent: Sequence[datetime] = (),
    caps: AccountCaps = CAPS,
    quiet: QuietHours | None = None,
    created: datetime = OLD_ACCOUNT,
    jitter: float = 0.0,
    min_gap: float = 0.0,
    max_gap: float = 0.0,
) -> datetime:
    zone = quiet.zone if quiet is not None else ZoneInfo("UTC")
    return next_send_time(
        now=now,
        new_dms_by_day={day_start(now, zone): sent_today, **(by_day or {})},
        recent_send_times=recent,
        caps=caps,
        quiet=quiet,
        account_created_at=created,
        jitter=jitter,
        min_gap_seconds=min_gap,
        max_gap_seconds=max_gap,
    )


# --- quiet hours -------------------------------------------------------------------------------


def test_outside_quiet_hours_next_allowed_is_now() -> None:
    now = datetime(2026, 1, 10, 12, 0, tzinfo=MSK)
    assert NIGHT_MSK.next_allowed(now) == now


def test_evening_part_of_a_midnight_crossing_window_ends_next_morning() -> None:
    now = datetime(2026, 1, 10, 23, 30, tzinfo=MSK)
    assert NIGHT_MSK.next_allowed(now) == utc(2026, 1, 11, 5, 0)  # 08:00 MSK


def test_early_morning_part_of_a_midnight_crossing_window_ends_the_same_morning() -> None:
    now = datetime(2026, 1, 11, 3, 0, tzinfo=MSK)
    assert NIGHT_MSK.next_allowed(now) == utc(2026, 1, 11, 5, 0)


def test_next_allowed_returns_utc() -> None:
    result = NIGHT_MSK.next_allowed(datetime(2026, 1, 11, 3, 0, tzinfo=MSK))
    assert result.tzinfo is UTC


def test_same_instant_is_judged_by_each_campaigns_own_clock() -> None:
    instant = utc(2026, 1, 11, 3, 0)  # 06:00 in Moscow, 22:00 (Jan 10) in New York
    assert NIGHT_MSK.next_allowed(instant) == utc(2026, 1, 11, 5, 0)  # 08:00 MSK
    assert NIGHT_NY.next_allowed(instant) == utc(2026, 1, 11, 13, 0)  # 08:00 EST


def test_afternoon_in_new_york_is_quiet_free_while_moscow_sleeps() -> None:
    instant = utc(2026, 1, 10, 20, 0)  # 23:00 MSK, 15:00 EST
    assert NIGHT_MSK.is_quiet(instant)
    assert not NIGHT_NY.is_quiet(instant)


def test_window_is_half_open_start_quiet_end_free() -> None:
    lunch = QuietHours(time(13), time(14), "Europe/Moscow")
    assert lunch.is_quiet(datetime(2026, 1, 10, 13, 0, tzinfo=MSK))
    assert not lunch.is_quiet(datetime(2026, 1, 10, 14, 0, tzinfo=MSK))
    assert lunch.next_allowed(datetime(2026, 1, 10, 13, 30, tzinfo=MSK)) == utc(2026, 1, 10, 11)


def test_spring_forward_in_new_york_ends_the_night_at_local_eight_edt() -> None:
    now = utc(2026, 3, 8, 4, 0)  # 23:00 EST on March 7; clocks jump 02:00 -> 03:00
    assert NIGHT_NY.next_allowed(now) == utc(2026, 3, 8, 12, 0)  # 08:00 EDT, not 13:00


def test_window_end_inside_the_dst_gap_resolves_after_the_gap() -> None:
    short_night = QuietHours(time(22), time(2, 30), "America/New_York")
    now = utc(2026, 3, 8, 6, 0)  # 01:00 EST, 02:30 will never be shown
    result = short_night.next_allowed(now)
    assert result == utc(2026, 3, 8, 7, 30)  # 03:30 EDT: never back inside the window
    assert not short_night.is_quiet(result)


def test_fall_back_in_berlin_ends_the_night_at_local_eight_cet() -> None:
    night = QuietHours(time(22), time(8), "Europe/Berlin")
    now = datetime(2026, 10, 24, 23, 0, tzinfo=BERLIN)  # CEST; clocks go 03:00 -> 02:00
    assert night.next_allowed(now) == utc(2026, 10, 25, 7, 0)  # 08:00 CET, not 06:00 UTC


def test_window_end_in_the_repeated_hour_picks_the_occurrence_still_ahead() -> None:
    night = QuietHours(time(22), time(2, 30), "Europe/Berlin")
    first_pass = datetime(2026, 10, 24, 23, 0, tzinfo=BERLIN)
    second_pass = utc(2026, 10, 25, 1, 10)  # 02:10 CET, the repeated hour
    assert night.next_allowed(first_pass) == utc(2026, 10, 25, 0, 30)  # 02:30 CEST
    assert night.next_allowed(second_pass) == utc(2026, 10, 25, 1, 30)  # 02:30 CET


def test_unknown_time_zone_is_rejected_with_its_name() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        QuietHours(time(22), time(8), "Mars/Olympus")


def test_equal_start_and_end_is_rejected() -> None:
    with pytest.raises(ValueError, match="quiet=None"):
        QuietHours(time(8), time(8), "UTC")


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        NIGHT_MSK.next_allowed(datetime(2026, 1, 10, 12, 0))


# --- warm-up ramp -------------------------------------------------------------------------------

RAMP = AccountCaps(new_dms_per_day=50, messages_per_minute=3, warmup_days=10, warmup_start_dms=5)
BORN = utc(2026, 1, 1, 15, 0)


@pytest.mark.parametrize(
    ("age", "allowance"),
    [
        (timedelta(0), 5),
        (timedelta(hours=23, minutes=59), 5),
        (timedelta(days=1), 9),  # 5 + 45 * 1 / 10 = 9.5, rounded down
        (timedelta(days=5), 27),  # 5 + 22.5
        (timedelta(days=9, hours=23), 45),
        (timedelta(days=10), 50),
        (timedelta(days=400), 50),
    ],
)
def test_warm_up_ramps_linearly_and_rounds_down(age: timedelta, allowance: int) -> None:
    assert new_dm_allowance(RAMP, BORN, BORN + age) == allowance


def test_warm_up_never_decreases_day_by_day() -> None:
    values = [new_dm_allowance(RAMP, BORN, BORN + timedelta(days=d)) for d in range(15)]
    assert values == sorted(values)


def test_before_creation_counts_as_day_zero() -> None:
    assert new_dm_allowance(RAMP, BORN, BORN - timedelta(days=3)) == 5


def test_no_warm_up_gives_the_full_allowance_at_once() -> None:
    assert new_dm_allowance(CAPS, BORN, BORN) == 50


def test_warm_up_start_above_the_daily_cap_is_rejected() -> None:
    with pytest.raises(ValueError, match="warmup_start_dms"):
        AccountCaps(new_dms_per_day=10, messages_per_minute=3, warmup_days=5, warmup_start_dms=20)


def test_zero_per_minute_cap_is_rejected() -> None:
    with pytest.raises(ValueError, match="messages_per_minute"):
        AccountCaps(new_dms_per_day=10, messages_per_minute=0)


# --- next send time -----------------------------------------------------------------------------


def test_nothing_in_the_way_means_send_now_in_utc() -> None:
    now = datetime(2026, 1, 10, 12, 0, tzinfo=MSK)
    result = send_at(now)
    assert result == now
    assert result.tzinfo is UTC


def test_jitter_zero_waits_the_minimum_gap_after_the_last_send() -> None:
    now = utc(2026, 1, 10, 12, 0, 0)
    last = now - timedelta(seconds=10)
    assert send_at(now, recent=[last], jitter=0.0, min_gap=30, max_gap=90) == last + timedelta(
        seconds=30
    )


def test_jitter_one_waits_the_maximum_gap_after_the_last_send() -> None:
    now = utc(2026, 1, 10, 12, 0, 0)
    last = now - timedelta(seconds=10)
    assert send_at(now, recent=[last], jitter=1.0, min_gap=30, max_gap=90) == last + timedelta(
        seconds=90
    )


def test_jitter_half_lands_in_the_middle_of_the_gap_range() -> None:
    now = utc(2026, 1, 10, 12, 0, 0)
    assert send_at(now, recent=[now], jitter=0.5, min_gap=30, max_gap=90) == now + timedelta(
        seconds=60
    )


def test_gap_already_elapsed_means_send_now() -> None:
    now = utc(2026, 1, 10, 12, 0, 0)
    assert send_at(now, recent=[now - timedelta(minutes=5)], min_gap=30, max_gap=90) == now


@pytest.mark.parametrize("jitter", [-0.01, 1.01])
def test_jitter_outside_zero_to_one_is_rejected(jitter: float) -> None:
    with pytest.raises(ValueError, match="jitter"):
        send_at(utc(2026, 1, 10, 12), jitter=jitter)


def test_min_gap_above_max_gap_is_rejected() -> None:
    with pytest.raises(ValueError, match="min_gap_seconds"):
        send_at(utc(2026, 1, 10, 12), min_gap=90, max_gap=30)


def test_per_minute_cap_waits_until_the_oldest_send_in_the_window_ages_out() -> None:
    now = utc(2026, 1, 10, 12, 0, 0)
    recent = [now - timedelta(seconds=s) for s in (50, 40, 10)]  # three within a minute, cap 3
    assert send_at(now, recent=recent) == now + timedelta(seconds=10)


def test_per_minute_cap_ignores_sends_older_than_a_minute() -> None:
    now = utc(2026, 1, 10, 12, 0, 0)
    recent = [now - timedelta(seconds=s) for s in (70, 40, 10)]
    assert send_at(now, recent=recent) == now


def test_exhausted_day_without_quiet_hours_rolls_to_utc_midnight() -> None:
    now = utc(2026, 1, 10, 15, 0)
    assert send_at(now, sent_today=50) == utc(2026, 1, 11, 0, 0)


def test_a_full_tomorrow_pushes_a_new_dm_to_the_day_after() -> None:
    now = utc(2026, 1, 10, 15, 0)
    tomorrow = utc(2026, 1, 11)
    assert send_at(now, sent_today=50, by_day={tomorrow: 50}) == utc(2026, 1, 12, 0, 0)


def test_a_backlog_fills_the_days_in_turn_not_the_next_midnight() -> None:
    now = utc(2026, 1, 10, 15, 0)
    small = AccountCaps(new_dms_per_day=2, messages_per_minute=10)
    by_day: dict[datetime, int] = {}
    planned = []
    for _ in range(5):
        at = send_at(now, by_day=by_day, caps=small)
        day = day_start(at, ZoneInfo("UTC"))
        by_day[day] = by_day.get(day, 0) + 1
        planned.append(at)
    assert planned == [now, now, utc(2026, 1, 11), utc(2026, 1, 11), utc(2026, 1, 12)]


def test_a_negative_day_count_is_rejected() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        send_at(utc(2026, 1, 10, 12), sent_today=-1)


def test_exhausted_day_rolls_to_the_next_local_midnight_in_moscow() -> None:
    evening_only = QuietHours(time(1), time(7), "Europe/Moscow")
    now = datetime(2026, 1, 10, 20, 0, tzinfo=MSK)
    assert send_at(now, sent_today=50, quiet=evening_only) == utc(2026, 1, 10, 21, 0)


def test_exhausted_day_in_new_york_uses_the_local_day_not_the_utc_one() -> None:
    small_hours = QuietHours(time(1), time(6), "America/New_York")
    now = utc(2026, 1, 11, 4, 30)  # already Jan 11 in UTC, still 23:30 Jan 10 in New York
    assert send_at(now, sent_today=50, quiet=small_hours) == utc(2026, 1, 11, 5, 0)


def test_exhausted_day_then_quiet_night_waits_for_the_morning() -> None:
    now = datetime(2026, 1, 10, 20, 0, tzinfo=MSK)
    assert send_at(now, sent_today=50, quiet=NIGHT_MSK) == utc(2026, 1, 11, 5, 0)


def test_exhausted_day_before_spring_forward_resumes_at_eight_edt() -> None:
    now = datetime(2026, 3, 7, 18, 0, tzinfo=NY)
    assert send_at(now, sent_today=50, quiet=NIGHT_NY) == utc(2026, 3, 8, 12, 0)


def test_gap_that_crosses_midnight_starts_a_fresh_day_count() -> None:
    now = utc(2026, 1, 10, 23, 59, 30)
    last = utc(2026, 1, 10, 23, 59, 0)
    result = send_at(now, sent_today=50, recent=[last], min_gap=120, max_gap=120)
    assert result == utc(2026, 1, 11, 0, 1, 0)


def test_warm_up_allowance_limits_a_fresh_account() -> None:
    now = utc(2026, 1, 1, 18, 0)
    assert send_at(now, sent_today=4, caps=RAMP, created=BORN) == now
    assert send_at(now, sent_today=5, caps=RAMP, created=BORN) == utc(2026, 1, 2, 0, 0)


def test_quiet_hours_push_a_send_that_the_gap_would_allow() -> None:
    now = datetime(2026, 1, 10, 21, 59, tzinfo=MSK)
    result = send_at(now, recent=[now], quiet=NIGHT_MSK, min_gap=120, max_gap=120)
    assert result == utc(2026, 1, 11, 5, 0)


def test_naive_recent_send_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="recent_send_times"):
        send_at(utc(2026, 1, 10, 12), recent=[datetime(2026, 1, 10, 11, 59)])
