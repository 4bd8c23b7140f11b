"""The watchdog's contract: restart a worker or release it from quarantine, and the answer.

The watchdog is the only writer of ``worker_states``, so the panel and the API never change a
worker's state themselves: they send a ``WorkerCommand`` over the bus as a request and get a
``WorkerResult`` — done, or why not (the worker is not quarantined, the account is paused …).
The actor travels inside the command, taken from the authenticated identity by the sender, and
the watchdog writes the audit entry in the same transaction as the change.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from core.access import Actor
from core.bus import Bus, RequestTimeout, UnroutableError
from core.events import Event, Payload

WORKER_COMMAND = "command.worker"
WORKER_TIMEOUT = 10.0  # seconds the sender waits; a late watchdog drops the command unanswered

WorkerAction = Literal[
    "restart",  # stop the worker now and start it again at once, with no backoff
    "release",  # out of quarantine, crash history forgotten: it starts again
]
WorkerOutcome = Literal["done", "refused", "missing", "unavailable"]


class WorkerCommand(Payload):
    NAME: ClassVar[str] = WORKER_COMMAND

    action: WorkerAction
    account_id: int = Field(ge=1)
    actor: Actor


class WorkerResult(Payload):
    NAME: ClassVar[str] = "command.worker.result"

    outcome: WorkerOutcome
    detail: str = ""
    state: str | None = Field(
        None,
        description="the worker's state after it: stopped (released, starts at the next pass), "
        "restarting (being stopped to start again), running, backoff …",
    )


class WorkerReleased(Payload):
    """Someone took a worker out of quarantine: its crash-loop alert is handled."""

    NAME: ClassVar[str] = "worker.released"

    account_id: int
    by: str = Field(description="the login of the person who released it")


async def send_worker_command(
    bus: Bus,
    command: WorkerCommand,
    *,
    timeout: float = WORKER_TIMEOUT,  # noqa: ASYNC109 - also the deadline the command carries
) -> WorkerResult:
    """Send ``command`` to the watchdog; ``unavailable`` when none is running or none answered
    in time (the command carries its deadline, so a late watchdog will not act on it)."""
    try:
        reply = await bus.request(Event.of(command), timeout=timeout)
    except UnroutableError:
        return WorkerResult(
            outcome="unavailable", detail="the watchdog is not running; nothing was done"
        )
    except RequestTimeout:
        return WorkerResult(
            outcome="unavailable",
            detail=f"the watchdog did not answer within {timeout:g} s; nothing was done",
        )
    return reply.payload_as(WorkerResult)
