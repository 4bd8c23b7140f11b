"""What a campaign allows a draft to contain, in the form the detectors compare against."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from core.outreach import OutreachPolicy

_DIGIT = re.compile(r"\d")


class OutputPolicy(BaseModel):
    """The checks' settings; the defaults allow no links, contacts or amounts at all."""

    model_config = ConfigDict(frozen=True)

    min_length: int = 10
    max_length: int = 1000
    allowed_link_hosts: frozenset[str] = frozenset()
    allowed_mentions: frozenset[str] = frozenset()  # usernames, no "@", case folded
    allowed_emails: frozenset[str] = frozenset()  # case folded
    allowed_phones: frozenset[str] = frozenset()  # digits only, country code included
    allowed_amounts: frozenset[Decimal] = frozenset()  # numbers an admin wrote (offer, templates)
    leak_chars: int = 28  # letters in a row shared with the instructions that make a leak
    near_duplicate_ratio: float = 0.9
    flag_meta_text: bool = True
    stages: tuple[str, ...] = ()
    max_stage_step: int = 1

    @field_validator("allowed_link_hosts")
    @classmethod
    def _hosts(cls, hosts: frozenset[str]) -> frozenset[str]:
        return frozenset(normalise_host(h.removeprefix("*.")) for h in hosts if h.strip())

    @field_validator("allowed_mentions")
    @classmethod
    def _mentions(cls, names: frozenset[str]) -> frozenset[str]:
        return frozenset(n.strip().removeprefix("@").casefold() for n in names if n.strip())

    @field_validator("allowed_emails")
    @classmethod
    def _emails(cls, emails: frozenset[str]) -> frozenset[str]:
        return frozenset(e.strip().casefold() for e in emails if e.strip())

    @field_validator("allowed_phones")
    @classmethod
    def _phones(cls, phones: frozenset[str]) -> frozenset[str]:
        return frozenset(d for d in (phone_digits(p) for p in phones) if d)

    @model_validator(mode="after")
    def _consistent(self) -> OutputPolicy:
        if not 0 <= self.min_length <= self.max_length:
            raise ValueError("need 0 <= min_length <= max_length")
        if self.leak_chars < 16:
            raise ValueError("leak_chars below 16 letters would flag ordinary phrases")
        if not 0 < self.near_duplicate_ratio <= 1:
            raise ValueError("near_duplicate_ratio must be in (0, 1]")
        if self.max_stage_step < 1:
            raise ValueError("max_stage_step must be at least 1")
        return self


def normalise_host(host: str) -> str:
    host = host.strip().rstrip(".").casefold()
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def phone_digits(phone: str) -> str:
    """The digits of a phone number, a Russian trunk ``8`` read as the country code ``7``."""
    digits = "".join(_DIGIT.findall(phone))
    return "7" + digits[1:] if len(digits) == 11 and digits.startswith("8") else digits


@lru_cache(maxsize=256)  # one per campaign and chat; the amounts are parsed once
def output_policy(policy: OutreachPolicy, chat: str = "") -> OutputPolicy:
    """The checks a campaign asks for: links only to the hosts of its allowed links, contacts
    only its own, amounts only those an admin wrote (offer, prompt, templates), and no @mention
    but the public chat the lead wrote in ("saw your post in @chat" is natural)."""
    from manager.guardrails.amounts import amounts_in  # the amount grammar lives with its check

    hosts = (
        urlsplit(link if "://" in link else f"//{link}").hostname for link in policy.allowed_links
    )
    contacts = [c.strip() for c in policy.allowed_contacts]
    admin_text = "\n".join((policy.offer, policy.prompt, *policy.templates, *policy.follow_ups))
    own_chat = chat.strip()
    return OutputPolicy(
        min_length=policy.min_length,
        max_length=policy.max_length,
        allowed_link_hosts=frozenset(host for host in hosts if host),
        allowed_mentions=frozenset([own_chat] if own_chat.startswith("@") else [])
        | {c for c in contacts if c.startswith("@")},
        allowed_emails=frozenset(c for c in contacts if "@" in c and not c.startswith("@")),
        allowed_phones=frozenset(c for c in contacts if c.startswith("+") or c[:1].isdigit()),
        allowed_amounts=frozenset(a.value for a in amounts_in(admin_text)),
        stages=tuple(policy.stages),
        max_stage_step=policy.max_stage_step,
    )
