"""Output guardrails: every reason a draft must not reach a lead without a person approving it.

One module per detector family (``leaks``, ``links``, ``numbers``, ``amounts``, ``content``,
``form``, ``stages``), the text folding they share (``text``), what a campaign allows
(``policy``) and the checklist that runs them all (``checklist``). See docs/architecture.md for
what each check defends against.
"""

from manager.guardrails.checklist import campaign_instructions, check_draft
from manager.guardrails.findings import Finding, Route, needs_person
from manager.guardrails.leaks import Instructions, new_canary
from manager.guardrails.policy import OutputPolicy, output_policy

__all__ = [
    "Finding",
    "Instructions",
    "OutputPolicy",
    "Route",
    "campaign_instructions",
    "check_draft",
    "needs_person",
    "new_canary",
    "output_policy",
]
