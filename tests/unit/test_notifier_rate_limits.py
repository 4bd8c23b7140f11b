"""The notifier's own pacing of Telegram's bot limits: a chat gets a message a second after a
burst of two, a group twenty a minute, and a notifier that has just started assumes its budgets
were spent by the run before it (Telegram still counts that run's messages)."""

from __future__ import annotations

from notifier.rate_limits import BotLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_just_started_notifier_waits_for_the_budget_its_last_run_may_have_spent() -> None:
    clock = Clock()
    limiter = BotLimiter(clock=clock)
    assert limiter.wait(42, new_message=True) == 1.0
    clock.now += 1.0
    assert limiter.wait(42, new_message=True) == 0.0


def test_a_chat_gets_a_burst_of_two_then_one_message_a_second() -> None:
    clock = Clock()
    limiter = BotLimiter(clock=clock)
    clock.now += 60.0  # long after the start: every budget is full
    for _ in range(2):
        assert limiter.wait(42, new_message=True) == 0.0
        limiter.take(42, new_message=True)
    assert limiter.wait(42, new_message=True) == 1.0
    assert limiter.wait(43, new_message=True) == 0.0, "another chat has its own budget"


def test_a_group_gets_twenty_new_messages_a_minute() -> None:
    clock = Clock()
    limiter = BotLimiter(clock=clock)
    clock.now += 120.0
    sent = 0
    while limiter.wait(-5, new_message=True) == 0.0:  # one a second, as fast as the chat allows
        limiter.take(-5, new_message=True)
        sent += 1
        clock.now += 1.0
    # 20 at once, plus one every 3 s meanwhile: a minute's worth at most, then one per 3 s.
    assert 28 <= sent <= 30
    assert 0.0 < limiter.wait(-5, new_message=True) <= 3.0
    assert limiter.wait(-5, new_message=False) == 0.0, "an edit is no new message"
