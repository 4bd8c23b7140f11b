"""The campaign form's "who counts as a lead" block: the second stage's settings
(``core.intent.IntentPolicy``) as the form shows them and back.

The stage is on or off, starts from one of the shipped models (a campaign kind, or ``general``),
decides at the model's threshold unless the campaign sets its own, and does one of three things
below it; operators' marks retrain it when ``learn`` is on. Settings the form does not show (the
LLM judge) are kept as stored. ``IntentPolicy`` validates on save, through the campaign's spec,
like the API and the workspace file (which also refuses a model that does not ship)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from admin.pages.names import N_
from core.intent import IntentPolicy

ENABLED, MODEL, THRESHOLD, BELOW, LEARN = (
    "intent.enabled",
    "intent.model",
    "intent.threshold",
    "intent.below",
    "intent.learn",
)
BELOW_CHOICES = (
    ("drop", N_("Drop it: no lead at all")),
    ("maybe", N_("Keep it as a maybe: nobody writes to them")),
    ("ask", N_("Ask an operator in Telegram: nobody writes until someone says it is a lead")),
)


def stored_policy(stored: dict[str, Any] | None) -> IntentPolicy:
    """A campaign row's policy; a hand-edited one that no longer reads: the defaults to fix."""
    try:
        return IntentPolicy.model_validate(stored or {})
    except ValidationError:
        return IntentPolicy()


def typed_from_intent(policy: IntentPolicy) -> dict[str, str]:
    return {
        ENABLED: "on" if policy.enabled else "",
        MODEL: policy.model,
        THRESHOLD: "" if policy.threshold is None else f"{policy.threshold:g}",
        BELOW: policy.below,
        LEARN: "on" if policy.learn else "",
    }


def intent_from_form(form: Mapping[str, Any], stored: IntentPolicy) -> dict[str, Any]:
    """The policy as the workspace file would hold it: the form's fields over the stored policy
    (so the judge's settings survive a save); a blank threshold is the model's. A form without
    the block (a client that predates it) keeps the stored policy as it is."""
    if MODEL not in form:
        return stored.model_dump(mode="json")
    threshold = str(form.get(THRESHOLD, "")).strip().replace(",", ".")
    return stored.model_dump(mode="json") | {
        "enabled": bool(form.get(ENABLED)),
        "model": str(form.get(MODEL, "")).strip(),
        "threshold": threshold or None,
        "below": str(form.get(BELOW, "")),
        "learn": bool(form.get(LEARN)),
    }
