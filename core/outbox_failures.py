"""How the outbox relay judges a row it could not publish, and how long it waits out an outage.

Pure: no database, no bus. A row is *malformed* (dead at once: retrying cannot fix it), *failed*
(tried again, dead after a bounded number of tries) or caught in a broker *outage* (not the row's
fault: no try is counted, the relay pauses). Reasons name the error, never the body.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from core.events import Event

REASON_LENGTH = 500  # characters of a reason kept in ``outbox.last_error``


class Verdict(enum.Enum):
    PUBLISHED = "published"
    MALFORMED = "malformed"  # dead at once
    FAILED = "failed"  # tried again; dead after ``max_attempts``
    OUTAGE = "outage"  # the broker is away; the row waits, no try counted


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    reason: str | None = None


PUBLISHED = Outcome(Verdict.PUBLISHED)


def decode_row(body: str) -> Event | Outcome:
    """The row's event, or a MALFORMED outcome whose reason is pydantic's, without the input."""
    try:
        return Event.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        what = f"{where}: {first['msg']}" if where else first["msg"]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return Outcome(Verdict.MALFORMED, clip(f"not a valid event: {what}{more}"))


def is_outage(exc: BaseException) -> bool:
    """A lost or not yet restored broker connection (the bus gave up retrying within its publish
    timeout) or a bus that is closing: nothing the row can be blamed for."""
    return isinstance(exc, OSError | TimeoutError | RuntimeError)


def judge(exc: BaseException) -> Outcome:
    """What a publish that raised means for its row."""
    verdict = Verdict.OUTAGE if is_outage(exc) else Verdict.FAILED
    return Outcome(verdict, describe(exc))


def settle(outcomes: Sequence[Outcome]) -> tuple[list[Outcome], bool]:
    """A pass's outcomes as they are recorded, and whether the broker is down. An outage error of
    a row in a pass where other rows went out is that row's own failure (a try is counted), or one
    row whose publish always raised one would hold the relay in its pause for ever."""
    worked = any(o.verdict is Verdict.PUBLISHED for o in outcomes)
    down = not worked and any(o.verdict is Verdict.OUTAGE for o in outcomes)
    if not worked:
        return list(outcomes), down
    return [
        Outcome(Verdict.FAILED, o.reason) if o.verdict is Verdict.OUTAGE else o for o in outcomes
    ], False


def describe(exc: BaseException) -> str:
    """The exception's type and message, clipped: what a log line or ``last_error`` may say."""
    message = str(exc)
    return clip(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def clip(text: str) -> str:
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 1] + "…"


def dead_after(attempts: int, outcome: Outcome, max_attempts: int) -> bool:
    """Whether a row with ``attempts`` tries (this one included) is moved aside now."""
    if outcome.verdict is Verdict.MALFORMED:
        return True
    return outcome.verdict is Verdict.FAILED and attempts >= max_attempts


class Backoff:
    """Exponential delays between tries during an outage: ``first``, doubling, at most ``most``."""

    def __init__(self, first: float = 0.2, most: float = 10.0) -> None:
        self.first, self.most = first, most
        self.failures = 0

    @property
    def active(self) -> bool:
        return self.failures > 0

    def next(self) -> float:
        delay = min(self.first * 2.0 ** min(self.failures, 30), self.most)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0
