"""The operator path's contract: one command per action a person takes on outreach, and its result.

The manager is the only writer of conversation state, so the admin API (and the notifier bot)
never change it themselves: they send an ``OperatorCommand`` over the bus as a request and wait for
the ``OperatorResult``. The actor travels inside the command, taken from the authenticated
identity by the sender; nothing a client writes in a request body can name it.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.access import Actor
from core.bus import Bus, RequestTimeout
from core.events import Event, Payload

OPERATOR_COMMAND = "command.operator"
OPERATOR_TIMEOUT = 10.0  # seconds the sender waits; the manager drops a command older than this

Action = Literal[
    "approve",  # a draft, optionally with edited text
    "reject",  # a draft
    "take_over",  # a conversation: automation stops, a person writes
    "hand_back",  # a conversation: automation resumes
    "write",  # a message by hand in a conversation taken over
    "do_not_contact",  # a Telegram user, for every campaign
    "do_not_contact_many",  # up to LIST_BATCH of them at once (a CSV import)
    "allow_contact",  # take a Telegram user off the do-not-contact list
]
LIST_BATCH = 1000  # people per do_not_contact_many command: a transaction of a second or two


class ListEntry(BaseModel):
    """One person for the do-not-contact list, with the reason kept beside them."""

    model_config = ConfigDict(extra="forbid")

    telegram_user_id: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=500)


Outcome = Literal["done", "missing", "conflict", "checks_failed", "unavailable"]


class OperatorCommand(Payload):
    NAME: ClassVar[str] = OPERATOR_COMMAND

    action: Action
    actor: Actor
    message_id: int | None = None
    conversation_id: int | None = None
    telegram_user_id: int | None = None
    text: str | None = Field(None, max_length=4096)
    reason: str | None = Field(None, max_length=500)
    entries: list[ListEntry] = Field(default_factory=list, max_length=LIST_BATCH)
    override_checks: bool = Field(
        False, description="send an edited text although it fails the output checks (audited)"
    )


class OperatorResult(Payload):
    NAME: ClassVar[str] = "command.operator.result"

    outcome: Outcome
    detail: str = ""
    problems: list[str] = Field(default_factory=list, description="failed output checks")
    message_id: int | None = None  # the message the action made or changed
    conversation_id: int | None = None


async def send_operator_command(
    bus: Bus,
    command: OperatorCommand,
    *,
    timeout: float = OPERATOR_TIMEOUT,  # noqa: ASYNC109 - also the deadline the command carries
) -> OperatorResult:
    """Send ``command`` to the manager and return its result; ``unavailable`` when no manager
    answered in time (the command carries its deadline, so a late manager will not act on it)."""
    try:
        reply = await bus.request(Event.of(command), timeout=timeout)
    except RequestTimeout:
        return OperatorResult(
            outcome="unavailable",
            detail=f"the manager service did not answer within {timeout:g} s; nothing was done",
        )
    return reply.payload_as(OperatorResult)
