"""The LLM writer: a JSON turn from the campaign's model, checked before anyone sees it.

What happens when a check fails depends on what failed, never on the model's say:
- a finding that needs a person (a leak, an off-list link or contact, a payment request, abuse,
  a changed price, a stage jump, injection markers) holds the draft for approval at once. The
  model is not asked again: an obedient model told why would only disguise the same thing;
- form problems only (length, a repeat, meta text, shouting, the wrong language): one fresh
  attempt with the same request and a new canary, *without* the reason; if that fails too, the
  campaign's template writer (checked the same way); if that fails too, held for approval.
Every attempt and its findings travel with the draft, so a held draft shows all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.llm_client import GaveUp, LlmClient, ModelTurn, Usage
from core.settings import Settings
from manager.guardrails import (
    Finding,
    campaign_instructions,
    check_draft,
    needs_person,
    new_canary,
    output_policy,
)
from manager.prompts import PromptInputs, TemplateProblem, build_messages, template_version
from manager.writers.draft import Attempt, Draft, Writer, WriteRequest, reasons
from manager.writers.templates import TemplateWriter

FRESH_ATTEMPTS = 2  # model answers per turn when only the form failed


class LlmWriter:
    def __init__(self, settings: Settings, *, fallback: Writer | None = None) -> None:
        self._settings = settings
        self._client = LlmClient(settings)
        self._fallback = fallback or TemplateWriter()

    async def close(self) -> None:
        await self._client.close()
        await self._fallback.close()

    async def write(self, request: WriteRequest) -> Draft:
        policy = request.policy
        model = policy.llm_model or self._settings.llm_model
        turn = _TurnRecord(f"llm:{model}", request, self._settings)
        base_url = policy.llm_base_url or self._settings.llm_base_url
        if not base_url:
            return turn.held(("no LLM endpoint is configured",))
        for _ in range(FRESH_ATTEMPTS):
            canary = new_canary()
            try:
                messages = chat_messages(request, canary)
            except TemplateProblem as exc:
                return turn.held((f"the prompt cannot render: {exc}",))
            try:
                answer = await self._client.turn(
                    base_url=base_url,
                    api_key=request.api_key,
                    model=model,
                    messages=messages,
                    stages=policy.stages,
                    usage=turn.usage,
                )
            except GaveUp as exc:
                if not turn.attempts:  # nothing written at all: an operator decides
                    return turn.held((exc.problem,))
                break  # a second answer failed to come: the template writer instead
            findings = check_turn(answer, request, messages[0]["content"], canary)
            turn.add(answer, findings)
            if not findings:
                return turn.draft(answer)
            if needs_person(findings):
                return turn.held(reasons(findings), answer)
        fallback = await self._fallback.write(request)
        turn.attempts.extend(fallback.attempts)
        if fallback.text and not fallback.problems:
            return turn.from_fallback(fallback)
        return turn.held(turn.all_reasons(), turn.last)


class _TurnRecord:
    """The attempts of one turn, the flags any answer raised, and the tokens they cost."""

    def __init__(self, writer: str, request: WriteRequest, settings: Settings) -> None:
        self.writer = writer
        self.request = request
        self.settings = settings
        self.usage = Usage()
        self.attempts: list[Attempt] = []
        self.last: ModelTurn | None = None
        # an opt-out or a call for a human noticed in any answer is kept: missing one costs more
        self.opted_out = False
        self.wants_human = False

    def add(self, answer: ModelTurn, findings: Sequence[Finding]) -> None:
        self.attempts.append(
            Attempt(writer=self.writer, text=answer.reply, findings=tuple(findings))
        )
        self.last = answer
        self.opted_out |= answer.opted_out
        self.wants_human |= answer.wants_human

    def all_reasons(self) -> tuple[str, ...]:
        seen = dict.fromkeys(f.reason for attempt in self.attempts for f in attempt.findings)
        return tuple(seen)

    def draft(self, answer: ModelTurn) -> Draft:
        return self._build(text=answer.reply.strip(), stage=self._stage(answer), problems=())

    def held(self, problems: tuple[str, ...], answer: ModelTurn | None = None) -> Draft:
        text = answer.reply.strip() if answer else ""
        stage = self._stage(answer) if answer else self._current()
        return self._build(text=text, stage=stage, problems=problems)

    def from_fallback(self, fallback: Draft) -> Draft:
        return fallback.model_copy(
            update={
                "attempts": tuple(self.attempts),
                "opted_out": self.opted_out,
                "wants_human": self.wants_human,
                "prompt_tokens": self.usage.prompt,
                "completion_tokens": self.usage.completion,
                "cost": self._cost(),
            }
        )

    def _build(self, *, text: str, stage: str, problems: tuple[str, ...]) -> Draft:
        return Draft(
            text=text,
            stage=stage,
            wants_human=self.wants_human,
            opted_out=self.opted_out,
            writer=self.writer,
            template_version=template_version(self.request.policy.prompt),
            prompt_tokens=self.usage.prompt,
            completion_tokens=self.usage.completion,
            cost=self._cost(),
            problems=problems,
            attempts=tuple(self.attempts),
        )

    def _current(self) -> str:
        stages, stage = self.request.policy.stages, self.request.stage
        return stage if stage is not None and stage in stages else stages[0]

    def _stage(self, answer: ModelTurn) -> str:
        """The model's stage, but never more than the campaign's step ahead (the jump itself is
        a finding that holds the draft; an approved text must not close the conversation)."""
        policy = self.request.policy
        stages, current = policy.stages, self.request.stage
        at = stages.index(current) if current in stages else -1
        return stages[min(stages.index(answer.stage), at + policy.max_stage_step, len(stages) - 1)]

    def _cost(self) -> float:
        return (
            self.usage.prompt / 1000 * self.settings.llm_price_prompt
            + self.usage.completion / 1000 * self.settings.llm_price_completion
        )


def chat_messages(request: WriteRequest, canary: str) -> list[dict[str, str]]:
    """The chat messages, with the answer rules and the canary (at both ends of the system
    message, so even a draft quoting only its first or last words shows it)."""
    policy = request.policy
    inputs = PromptInputs(
        offer=policy.offer,
        lead_message=request.lead_message,
        chat=request.chat,
        profile=request.profile,
        history=request.history,
    )
    messages = build_messages(
        system_template=policy.prompt, inputs=inputs, history_limit=policy.history_turns
    )
    rules = _answer_rules(policy.stages, request.stage)
    system = f"[ref {canary}]\n{messages[0]['content']}\n\n{rules}\n[ref {canary}]"
    messages[0] = {"role": "system", "content": system}
    return messages


def check_turn(
    answer: ModelTurn, request: WriteRequest, system_prompt: str, canary: str
) -> list[Finding]:
    policy = request.policy
    instructions = campaign_instructions(
        policy, system_prompt=system_prompt, canary=canary, lead_texts=request.lead_texts()
    )
    return check_draft(
        answer.reply,
        policy=output_policy(policy, request.chat),
        instructions=instructions,
        previous=request.our_texts(),
        lead_text=request.last_lead_text(),
        stage=(request.stage, answer.stage),
    )


def _answer_rules(stages: Sequence[str], current: str | None) -> str:
    now = (
        f"The conversation is at the stage {current!r}."
        if current in stages
        else f"No stage yet: this message starts the stage {stages[0]!r}."
    )
    return (
        'Answer with one JSON object only: "reply" is the message to the lead; "stage" is the '
        'conversation stage after this message; "wants_human" is true when the lead asks for a '
        'person or needs one; "opted_out" is true when the lead asks not to be contacted again.\n'
        f"Stages, in order: {', '.join(stages)}. {now} Move forward one stage at a time when the "
        "conversation has moved on; never skip a stage."
    )
