"""Every check a draft goes through, in one place: what the campaign allows and what it hides.

``check_draft`` runs the detector families (one module each) and returns every finding; an empty
list means the draft may go out on its own. ``campaign_instructions`` says what a campaign's
drafts must not reveal and what they may quote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.outreach import OutreachPolicy
from core.untrusted_data import DATA_NOTE
from manager.guardrails.amounts import price_findings
from manager.guardrails.content import abuse_findings, language_findings, payment_findings
from manager.guardrails.findings import Finding
from manager.guardrails.form import length_findings, marker_findings, meta_findings, repeat_findings
from manager.guardrails.leaks import Instructions, leak_findings
from manager.guardrails.links import link_findings
from manager.guardrails.numbers import number_findings
from manager.guardrails.policy import OutputPolicy
from manager.guardrails.stages import stage_findings
from manager.prompts import FINAL_REQUEST, SYSTEM_DATA_RULES

_TEMPLATE_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_SCAFFOLDING = (DATA_NOTE, FINAL_REQUEST, SYSTEM_DATA_RULES)


def campaign_instructions(
    outreach: OutreachPolicy,
    *,
    system_prompt: str = "",
    canary: str | None = None,
    lead_texts: Sequence[str] = (),
) -> Instructions:
    """The instructions behind a campaign's drafts (the rendered system prompt without its
    canary, each literal part of the template, our scaffolding), and what a draft may quote:
    the offer and templates an admin wrote to be sent, and the lead's own words."""
    rendered = system_prompt.replace(canary, " ") if canary else system_prompt
    literal = tuple(part for part in _TEMPLATE_TAG.split(outreach.prompt) if part.strip())
    return Instructions(
        texts=(rendered, *literal, *_SCAFFOLDING),
        canary=canary,
        quotes=(outreach.offer, *outreach.templates, *outreach.follow_ups, *lead_texts),
    )


def check_draft(
    text: str,
    *,
    policy: OutputPolicy,
    instructions: Instructions,
    previous: Sequence[str] = (),
    lead_text: str = "",
    stage: tuple[str | None, str] | None = None,
) -> list[Finding]:
    """Every finding on ``text``. ``previous``: our earlier messages; ``lead_text``: what the
    lead wrote last (for the language); ``stage``: (current, proposed), when a writer moves it."""
    findings = length_findings(text, policy)
    if findings and findings[0].check == "form.empty":
        return findings
    findings += leak_findings(text, instructions, leak_chars=policy.leak_chars)
    findings += link_findings(text, policy)
    findings += number_findings(text, policy)
    findings += payment_findings(text)
    findings += price_findings(text, policy)
    findings += abuse_findings(text)
    findings += marker_findings(text)
    findings += language_findings(text, lead_text)
    findings += repeat_findings(text, previous, policy.near_duplicate_ratio)
    if policy.flag_meta_text:
        findings += meta_findings(text)
    if stage is not None:
        findings += stage_findings(stage[1], stage[0], policy.stages, policy.max_stage_step)
    return findings
