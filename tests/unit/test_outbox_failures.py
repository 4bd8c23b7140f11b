"""How the outbox relay judges a row it could not publish (core/outbox_failures.py)."""

from __future__ import annotations

import pytest

from core.bus import UnroutableError
from core.events import Event
from core.outbox_failures import (
    PUBLISHED,
    REASON_LENGTH,
    Backoff,
    Outcome,
    Verdict,
    dead_after,
    decode_row,
    describe,
    judge,
    settle,
)

SECRET = "Анна, +7 900 123-45-67"  # what must never reach a reason (and so a log)


def test_a_valid_body_decodes_to_its_event() -> None:
    event = Event(name="lead.found", payload={"text": SECRET})
    assert decode_row(event.model_dump_json()) == event


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (f"not json {SECRET}", "Invalid JSON"),
        ('{"payload": {"text": "' + SECRET + '"}}', "name: Field required"),
        ('{"name": "x", "payload": "' + SECRET + '"}', "payload: Input should be an object"),
        ("[]", "not a valid event: Input should be an object"),
    ],
)
def test_a_malformed_body_is_malformed_with_a_reason_that_leaves_the_body_out(
    body: str, says: str
) -> None:
    outcome = decode_row(body)
    assert isinstance(outcome, Outcome)
    assert outcome.verdict is Verdict.MALFORMED
    assert outcome.reason is not None
    assert says in outcome.reason
    assert SECRET not in outcome.reason
    assert "+7" not in outcome.reason


@pytest.mark.parametrize(
    "exc",
    [ConnectionError("gone"), TimeoutError(), OSError("reset"), RuntimeError("the bus is closed")],
)
def test_connection_trouble_is_an_outage_not_the_rows_fault(exc: Exception) -> None:
    assert judge(exc).verdict is Verdict.OUTAGE


@pytest.mark.parametrize("exc", [ValueError("too big"), UnroutableError("no queue"), KeyError(1)])
def test_other_publish_errors_are_failures_of_the_row(exc: Exception) -> None:
    outcome = judge(exc)
    assert outcome.verdict is Verdict.FAILED
    assert outcome.reason is not None
    assert outcome.reason.startswith(type(exc).__name__)


def test_a_reason_is_clipped() -> None:
    reason = describe(ValueError("x" * 10_000))
    assert len(reason) == REASON_LENGTH
    assert reason.endswith("…")
    assert describe(TimeoutError()) == "TimeoutError"


def test_a_malformed_row_is_dead_at_its_first_try() -> None:
    assert dead_after(1, Outcome(Verdict.MALFORMED, "bad"), max_attempts=5)


def test_a_failed_row_is_dead_only_at_its_last_try() -> None:
    failed = Outcome(Verdict.FAILED, "boom")
    assert [dead_after(n, failed, max_attempts=3) for n in (1, 2, 3, 4)] == [
        False,
        False,
        True,
        True,
    ]


def test_an_outage_never_kills_a_row() -> None:
    assert not dead_after(1_000, Outcome(Verdict.OUTAGE, "down"), max_attempts=3)


def test_backoff_doubles_up_to_its_ceiling_and_starts_over_after_a_reset() -> None:
    backoff = Backoff(first=0.5, most=3.0)
    assert not backoff.active
    assert [backoff.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.active
    backoff.reset()
    assert not backoff.active
    assert backoff.next() == 0.5


def test_backoff_stays_at_its_ceiling_through_a_long_outage() -> None:
    backoff = Backoff(first=0.2, most=10.0)
    for _ in range(5_000):
        backoff.next()
    assert backoff.next() == 10.0


def test_an_outage_error_while_other_rows_went_out_is_the_rows_own_failure() -> None:
    down = Outcome(Verdict.OUTAGE, "RuntimeError: channel closed")
    recorded, broker_down = settle([PUBLISHED, down, PUBLISHED])
    assert not broker_down
    assert recorded == [
        PUBLISHED,
        Outcome(Verdict.FAILED, "RuntimeError: channel closed"),
        PUBLISHED,
    ]


def test_outage_errors_alone_mean_the_broker_is_down_and_count_no_try() -> None:
    down = Outcome(Verdict.OUTAGE, "ConnectionError")
    malformed = Outcome(Verdict.MALFORMED, "not a valid event")
    assert settle([down, malformed, down]) == ([down, malformed, down], True)
    assert settle([malformed]) == ([malformed], False)
    assert settle([]) == ([], False)
