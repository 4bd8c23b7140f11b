"""Operators teach the second stage: "is a lead" / "not a lead" on a lead, and the result.

The parser is the only writer of leads and of their verdicts, so the admin API and the notifier
bot never change them: they send a ``LeadCommand`` over the bus as a request and wait for the
``LeadCommandResult``. The parser keeps the mark as a labelled example for the lead's campaign
(its retrainer learns from them) and, on "is a lead" for a lead nobody wrote to yet, announces it
to the manager (``lead.found`` with the verdict ``lead``). The actor travels inside the command,
taken from the authenticated identity by the sender.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from core.access import Actor
from core.bus import Bus, RequestTimeout, UnroutableError
from core.events import Event, Payload
from core.intent import IntentVerdict

LEAD_COMMAND = "command.lead"
LEAD_COMMAND_TIMEOUT = 10.0  # seconds the sender waits; the parser drops a command older than this

LeadMark = Literal["lead", "not_lead"]
LeadCommandOutcome = Literal["done", "missing", "unavailable"]


class LeadCommand(Payload):
    NAME: ClassVar[str] = LEAD_COMMAND

    lead_id: int = Field(ge=1)
    mark: LeadMark
    actor: Actor


class LeadCommandResult(Payload):
    NAME: ClassVar[str] = "command.lead.result"

    outcome: LeadCommandOutcome
    detail: str = ""
    intent: IntentVerdict | None = None  # the lead's verdict after the command
    written_to: bool = False  # "is a lead" sent the lead on to the manager


async def send_lead_command(
    bus: Bus,
    command: LeadCommand,
    *,
    timeout: float = LEAD_COMMAND_TIMEOUT,  # noqa: ASYNC109 - also the deadline the command carries
) -> LeadCommandResult:
    """Send ``command`` to the parser and return its result; ``unavailable`` when no parser
    answered in time (the command carries its deadline, so a late parser will not act on it), or
    when no parser ever bound its queue (a bus that refuses what nobody would read)."""
    try:
        reply = await bus.request(Event.of(command), timeout=timeout)
    except UnroutableError:
        return LeadCommandResult(
            outcome="unavailable", detail="the parser service is not running; nothing was done"
        )
    except RequestTimeout:
        return LeadCommandResult(
            outcome="unavailable",
            detail=f"the parser service did not answer within {timeout:g} s; nothing was done",
        )
    return reply.payload_as(LeadCommandResult)
