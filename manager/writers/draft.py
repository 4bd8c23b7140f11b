"""What a writer is given (``WriteRequest``) and what it gives back (``Draft``, with every attempt
and what the checks found on it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from core.outreach import OutreachPolicy
from manager.guardrails import Finding
from manager.prompts import Profile, Turn


class WriteRequest(BaseModel):
    """Everything a writer may use for the next message of one conversation."""

    model_config = ConfigDict(frozen=True)

    policy: OutreachPolicy
    lead_message: str = ""
    chat: str = ""
    profile: Profile = Profile()
    history: tuple[Turn, ...] = ()  # oldest first
    stage: str | None = None  # None before our first message
    seed: int = 0  # for deterministic template variation (say, the lead id)
    api_key: SecretStr | None = None  # the campaign's own LLM key, for its own endpoint

    def lead_texts(self) -> list[str]:
        """Everything the lead wrote that a draft may quote back."""
        said = [turn.text for turn in self.history if turn.role == "lead"]
        return [self.lead_message, *said]

    def last_lead_text(self) -> str:
        said = [turn.text for turn in self.history if turn.role == "lead"]
        return said[-1] if said else self.lead_message

    def our_texts(self) -> list[str]:
        return [turn.text for turn in self.history if turn.role == "manager"]


class Attempt(BaseModel):
    """One text a writer produced for the turn and what the checks found on it."""

    model_config = ConfigDict(frozen=True)

    writer: str
    text: str
    findings: tuple[Finding, ...] = ()


class Draft(BaseModel):
    """A message ready to send, or (with ``problems``) one an operator must approve first."""

    model_config = ConfigDict(frozen=True)

    text: str
    stage: str
    wants_human: bool = False
    opted_out: bool = False
    writer: str  # "llm:<model>" or "template"
    template_version: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0  # USD
    problems: tuple[str, ...] = ()
    attempts: tuple[Attempt, ...] = ()  # every text tried for this turn, in order

    @model_validator(mode="after")
    def _text_or_problems(self) -> Draft:
        if not self.text.strip() and not self.problems:
            raise ValueError("an empty draft must say what went wrong")
        return self

    def checks_record(self) -> list[dict[str, object]] | None:
        """The attempts as stored with the message (None when the first one passed)."""
        if not any(attempt.findings for attempt in self.attempts):
            return None
        return [attempt.model_dump(mode="json") for attempt in self.attempts]


def reasons(findings: Sequence[Finding]) -> tuple[str, ...]:
    return tuple(finding.reason for finding in findings)


class Writer(Protocol):
    async def write(self, request: WriteRequest) -> Draft: ...

    async def close(self) -> None: ...
