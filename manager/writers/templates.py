"""The offline writer: a campaign template (first message) or a follow-up, with variations.

Its drafts go through the same checks as a model's (a lead's first name is part of the text,
and a name can carry a link). The language check is left out: the admin chose the templates'
language.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from manager.guardrails import campaign_instructions, check_draft, output_policy
from manager.prompts import template_version
from manager.spintax import expand, fill
from manager.writers.draft import Attempt, Draft, WriteRequest, reasons

TEMPLATE_CANDIDATES = 5  # variations the offline writer tries before handing problems over
WRITER = "template"
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_FOLLOW_UPS = {
    "ru": "{Спасибо за ответ|Благодарю за ответ}{, {name}|}! {Если удобно, расскажу подробнее|"
    "Могу рассказать подробнее}{ — когда вам удобно обсудить?|. Есть пара минут на звонок?}",
    "en": "{Thanks for your reply|Thank you for getting back to me}{, {name}|}! {I can tell you "
    "more|Happy to share the details}{ — when would a short chat suit you?|. Would a quick call "
    "this week work?}",
}


def next_stage(stages: Sequence[str], current: str | None, our_turns: int) -> str:
    """One stage further than ``current``, never past the last; by turn count when unknown."""
    index = stages.index(current) + 1 if current is not None and current in stages else our_turns
    return stages[min(index, len(stages) - 1)]


class TemplateWriter:
    async def write(self, request: WriteRequest) -> Draft:
        policy = request.policy
        previous = request.our_texts()
        if previous:
            stage = next_stage(policy.stages, request.stage, len(previous))
            # A campaign's follow-ups go in order, one per turn (a conversation that outlives
            # them keeps the last, which the repeat check then holds for an operator).
            later = policy.follow_ups
            chosen = later[min(len(previous), len(later)) - 1] if later else None
            sources: Sequence[str] = (chosen or _FOLLOW_UPS[_language(request)],)
        else:
            stage, sources = policy.stages[0], policy.templates
        rng = random.Random(request.seed + len(request.history))
        drafts: list[Draft] = []
        for _ in range(TEMPLATE_CANDIDATES):  # another variation may pass where one repeats
            draft = _from_template(rng.choice(sources), rng, request, stage, previous)
            if not draft.problems or not draft.text:
                return draft
            drafts.append(draft)
        return drafts[0]

    async def close(self) -> None:
        """Nothing to release."""


def _from_template(
    source: str, rng: random.Random, request: WriteRequest, stage: str, previous: list[str]
) -> Draft:
    policy, profile = request.policy, request.profile
    fields = {"name": profile.name, "username": profile.username, "offer": policy.offer}
    try:
        text = fill(expand(source, rng), {**fields, "chat": request.chat}).strip()
    except ValueError as exc:  # a template saved before validation existed
        problem = f"the template cannot be used: {exc}"
        return Draft(
            text="",
            stage=stage,
            writer=WRITER,
            template_version=template_version(source),
            problems=(problem,),
        )
    findings = tuple(
        check_draft(
            text,
            policy=output_policy(policy, request.chat),
            instructions=campaign_instructions(policy),
            previous=previous,
        )
    )
    return Draft(
        text=text,
        stage=stage,
        writer=WRITER,
        template_version=template_version(source),
        problems=reasons(findings),
        attempts=(Attempt(writer=WRITER, text=text, findings=findings),),
    )


def _language(request: WriteRequest) -> str:
    """Russian when the lead (or, before they said anything, the campaign) writes in Cyrillic."""
    sample = request.last_lead_text()
    if not sample.strip():
        sample = " ".join(request.policy.templates)
    return "ru" if _CYRILLIC.search(sample) else "en"
