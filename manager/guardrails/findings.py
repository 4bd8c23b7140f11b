"""What a check found: which check, why (in words an operator understands), and where it goes.

The route decides what happens to a draft: ``PERSON`` findings (a leak, an off-list link or
contact, a payment request, abuse, a changed price, a stage jump, injection markers) are never
retried — an obedient model told why would only disguise the same thing better — and always wait
for a person. ``RETRY`` findings are form problems a fresh attempt or the template writer can fix.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Route(StrEnum):
    PERSON = "person"
    RETRY = "retry"


class Finding(BaseModel):
    """One failed check; ``check`` is a stable id (``family.name``) for filtering and metrics."""

    model_config = ConfigDict(frozen=True)

    check: str
    reason: str
    route: Route

    @property
    def family(self) -> str:
        return self.check.split(".", 1)[0]


def person(check: str, reason: str) -> Finding:
    return Finding(check=check, reason=reason, route=Route.PERSON)


def retry(check: str, reason: str) -> Finding:
    return Finding(check=check, reason=reason, route=Route.RETRY)


def needs_person(findings: list[Finding] | tuple[Finding, ...]) -> bool:
    return any(f.route is Route.PERSON for f in findings)
