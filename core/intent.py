"""A campaign's lead-intent settings: the second stage after the keyword match.

Stored as JSON on the campaign (``campaigns.intent``; written by the workspace file and the admin
API, read by the parser), so every side validates it with this one model. The defaults are the
product's: the stage is on, the shipped general model decides, and a message below the threshold
is kept as a "maybe" lead that nobody writes to until an operator says it is a lead.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# What happens to a keyword hit the model scores below the campaign's threshold.
BelowThreshold = Literal[
    "drop",  # no lead at all (counted in the parser's metrics only)
    "maybe",  # a lead kept without a DM; an operator may say "is a lead"
    "ask",  # a lead kept without a DM, and the operators are asked in the notifier
]
# The stage's verdict stored on the lead (``leads.intent``); NULL when the stage was off.
IntentVerdict = Literal[
    "lead",  # scored at or above the threshold (or judged / marked a lead): the manager writes
    "maybe",  # below the threshold, kept
    "ask",  # below the threshold, an operator was asked
    "not_lead",  # an operator said "not a lead"
]
WRITES_TO: frozenset[str | None] = frozenset({None, "lead"})  # verdicts the manager writes to
DEFAULT_MODEL = "general"


class IntentPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="classify keyword hits; off: every hit is a lead")
    model: str = Field(
        DEFAULT_MODEL,
        min_length=1,
        max_length=32,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="the shipped model to start from (a campaign kind or 'general'); the "
        "campaign's own retrained model replaces it once one scores at least as well",
    )
    threshold: float | None = Field(
        None, ge=0.05, le=0.95, description="a lead at this score or above; none: the model's"
    )
    below: BelowThreshold = "maybe"
    learn: bool = Field(True, description="retrain from operators' 'lead' / 'not a lead' marks")
    judge: bool = Field(False, description="ask the campaign's LLM about scores within judge_band")
    judge_band: tuple[float, float] = (0.25, 0.75)

    @model_validator(mode="after")
    def _band(self) -> IntentPolicy:
        low, high = self.judge_band
        if not 0.0 <= low < high <= 1.0:
            raise ValueError("judge_band must be two scores from 0 to 1, the lower first")
        return self


def policy_of(stored: dict[str, object] | None) -> IntentPolicy:
    """The policy kept on a campaign row (``{}`` or NULL: the defaults)."""
    return IntentPolicy.model_validate(stored or {})
