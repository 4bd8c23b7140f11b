"""Token-bucket arithmetic and the Telegram-shaped limiters built on it (with a fake clock)."""

from __future__ import annotations

import math

import pytest

from sandbox.limits import (
    AccountLimiter,
    AccountLimitsConfig,
    BotLimiter,
    BotLimitsConfig,
    TokenBucket,
    acquire,
    retry_seconds,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_serves_its_burst_then_asks_to_wait_for_one_token() -> None:
    bucket = TokenBucket(capacity=3, rate=1.0)

    for _ in range(3):
        assert acquire([bucket], 0.0) == 0.0
    assert acquire([bucket], 0.0) == pytest.approx(1.0)
    assert acquire([bucket], 0.25) == pytest.approx(0.75)


def test_tokens_refill_at_the_rate_and_never_beyond_capacity() -> None:
    bucket = TokenBucket(capacity=2, rate=0.5)
    acquire([bucket], 0.0)
    acquire([bucket], 0.0)

    assert bucket.wait_time(1.0) == pytest.approx(1.0)  # half a token after one second
    assert bucket.wait_time(2.0) == 0.0
    assert bucket.wait_time(100.0) == 0.0
    assert bucket.tokens == pytest.approx(2.0)


def test_a_refusal_takes_nothing_from_any_bucket() -> None:
    roomy, empty = TokenBucket(10, 1.0), TokenBucket(1, 1.0)
    acquire([empty], 0.0)

    assert acquire([roomy, empty], 0.0) == pytest.approx(1.0)
    assert roomy.tokens == pytest.approx(10.0)


def test_a_clock_going_backwards_does_not_mint_tokens() -> None:
    bucket = TokenBucket(1, 1.0)
    acquire([bucket], 10.0)

    assert bucket.wait_time(5.0) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("wait", "seconds"), [(0.01, 1), (1.0, 1), (1.2, 2), (59.5, 60), (math.inf, 86_400)]
)
def test_retry_seconds_are_whole_and_never_zero(wait: float, seconds: int) -> None:
    assert retry_seconds(wait) == seconds


def test_bot_may_burst_three_messages_to_a_chat_then_one_per_second() -> None:
    clock = FakeClock()
    limiter = BotLimiter(BotLimitsConfig(), clock)

    assert [limiter.send(1, 42, group=False) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.send(1, 42, group=False) == pytest.approx(1.0)
    assert limiter.send(1, 43, group=False) == 0.0  # another chat has its own bucket
    clock.now += 1.0
    assert limiter.send(1, 42, group=False) == 0.0


def test_bot_may_send_twenty_messages_a_minute_to_one_group() -> None:
    clock = FakeClock()
    limiter = BotLimiter(BotLimitsConfig(per_chat_burst=100, per_chat_rate=100), clock)

    for _ in range(20):
        assert limiter.send(1, -100, group=True) == 0.0
        clock.now += 0.1
    # 2 s refilled 2/3 of a token at 20/min: one more needs another third of three seconds
    assert limiter.send(1, -100, group=True) == pytest.approx(1.0)


def test_bot_overall_rate_caps_bulk_sends_across_chats() -> None:
    clock = FakeClock()
    limiter = BotLimiter(BotLimitsConfig(), clock)

    sent = sum(limiter.send(1, chat, group=False) == 0.0 for chat in range(100))

    assert sent == 30


def test_account_limits_count_messages_joins_and_new_dialogs_separately() -> None:
    clock = FakeClock()
    config = AccountLimitsConfig(message_burst=2, messages_per_minute=60, join_burst=1)
    limiter = AccountLimiter(config, clock)

    assert limiter.message(7) == 0.0 and limiter.message(7) == 0.0
    assert limiter.message(7) == pytest.approx(1.0)
    assert limiter.join(7) == 0.0
    assert limiter.join(7) == pytest.approx(30.0)  # 120 joins/hour
    assert limiter.new_dialog(7) == 0.0  # asking does not count
    for _ in range(20):
        limiter.count_new_dialog(7)
    assert limiter.new_dialog(7) == pytest.approx(180.0)  # 20 per hour
