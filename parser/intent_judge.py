"""The LLM judge of the uncertain middle: a keyword hit the campaign's model scored inside its
``judge_band`` is asked about once, briefly, and the LLM's verdict replaces the model's.

Plugged into the second stage as its ``Judge`` (``parser.intent_stage``). What it guarantees:

- it answers only what it is asked (the stage asks only inside the band, only for campaigns with
  ``judge`` on), and a lead it decides says so: the reason starts with ``LLM:``;
- no usable answer — no endpoint, a timeout (``llm_judge_timeout``, one attempt, no retries), an
  HTTP error, a reply that is not the JSON asked for, or several failures in a row just before
  (then the endpoint is left alone for a while) — and the model's verdict stands (``None``): the
  parser is never held up long and never loses a lead to the LLM;
- a message that tries to instruct the judge is never sent to it and is not a lead (an operator
  can still say it is): an obedient LLM would do what the message says;
- every call's tokens and cost (the settings' prices per 1,000 tokens, as the manager's) are
  added to the campaign's row of the day (``intent_judge_daily_counts``) and to Prometheus.

The endpoint, model and key are the campaign's outreach settings' (``llm_base_url``,
``llm_model``, its own encrypted key), else the settings' — as the manager writes with them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Literal

from prometheus_client import Counter
from pydantic import SecretStr, ValidationError
from sqlalchemy import select

from core.db import Database
from core.db.judge_models import IntentJudgeDailyCount
from core.db.models import Campaign
from core.db.upsert import upsert_adding
from core.outreach import OutreachPolicy
from core.security import SecretBox
from core.settings import Settings
from parser.intent.classify import Verdict
from parser.intent_judge_prompt import (
    JudgeAnswer,
    instructs_the_judge,
    judge_format,
    judge_messages,
)

if TYPE_CHECKING:
    from core.llm_client import LlmClient

log = logging.getLogger(__name__)

Outcome = Literal["lead", "not_lead", "no_answer", "instructed", "no_endpoint", "resting"]
JUDGE_CALLS = Counter(
    "coolthing_intent_judge_total", "Keyword hits the LLM judge was asked about", ["outcome"]
)
JUDGE_TOKENS = Counter("coolthing_intent_judge_tokens_total", "LLM judge tokens", ["kind"])
JUDGE_COST = Counter("coolthing_intent_judge_cost_usd_total", "LLM judge cost in USD")

FAILURES_TO_REST = 3  # failures in a row before an endpoint is left alone …
REST_SECONDS = 30.0  # … for this long: a down endpoint must not cost every message a timeout
REASON_LIMIT = 500  # the lead's reason (LeadFound.reason's limit)
_COUNTS = ("calls", "leads", "not_leads", "fallbacks", "prompt_tokens", "completion_tokens", "cost")


def cost_of(prompt_tokens: int, completion_tokens: int, settings: Settings) -> float:
    """USD for one call, at the settings' prices per 1,000 tokens (the manager's arithmetic)."""
    return (
        prompt_tokens / 1000 * settings.llm_price_prompt
        + completion_tokens / 1000 * settings.llm_price_completion
    )


@dataclass(frozen=True, slots=True)
class _Endpoint:
    base_url: str
    model: str
    api_key: SecretStr | None
    offer: str


@dataclass(slots=True)
class _Health:
    failures: int = 0
    resting_until: float = 0.0


class IntentJudge:
    """One per parser process; call it as the stage's ``Judge``; ``close()`` on the way out."""

    def __init__(self, db: Database, settings: Settings, box: SecretBox | None = None) -> None:
        self._db = db
        self._settings = settings
        self._box = box
        self._client: LlmClient | None = None
        self._health: dict[str, _Health] = {}

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    async def __call__(
        self, campaign_id: int, text: str, bio: str | None, verdict: Verdict
    ) -> Verdict | None:
        instruction = instructs_the_judge(text, bio)
        if instruction is not None:
            await self._count(campaign_id, "instructed")
            why = f"not judged: the message tries to instruct the model («{instruction}»)"
            return replace(verdict, lead=False, reason=f"{why}; {verdict.reason}"[:REASON_LIMIT])
        endpoint = await self._endpoint(campaign_id)
        if endpoint is None:
            JUDGE_CALLS.labels("no_endpoint").inc()
            return None
        health = self._health.setdefault(endpoint.base_url, _Health())
        if health.resting_until > time.monotonic():
            JUDGE_CALLS.labels("resting").inc()
            return None
        answer, prompt, completion = await self._ask(endpoint, text, bio)
        if answer is None:
            health.failures += 1
            if health.failures >= FAILURES_TO_REST:
                health.failures, health.resting_until = 0, time.monotonic() + REST_SECONDS
        else:
            health.failures = 0
        outcome: Outcome = "no_answer" if answer is None else "lead" if answer.lead else "not_lead"
        await self._count(campaign_id, outcome, prompt, completion)
        if answer is None:
            return None
        reason = (
            f"LLM: {answer.reason} (sure {answer.confidence:.2f}; "
            f"model {verdict.score:.2f}: {verdict.reason})"
        )
        return replace(verdict, lead=answer.lead, reason=reason[:REASON_LIMIT])

    async def _ask(
        self, endpoint: _Endpoint, text: str, bio: str | None
    ) -> tuple[JudgeAnswer | None, int, int]:
        """The answer (None when there is none) and the tokens it took."""
        # openai's import costs about a second: a parser whose campaigns never judge skips it
        from core.llm_client import GaveUp, LlmClient, Usage, parse_json

        if self._client is None:
            self._client = LlmClient(self._settings)
        usage = Usage()
        seconds = self._settings.llm_judge_timeout
        try:
            # the client's timeout covers each read; this one bounds the whole call
            async with asyncio.timeout(seconds + 1.0):
                answer = await self._client.answer(
                    base_url=endpoint.base_url,
                    api_key=endpoint.api_key,
                    model=endpoint.model,
                    messages=judge_messages(offer=endpoint.offer, text=text, bio=bio),
                    response_format=judge_format(),
                    parse=partial(parse_json, shape=JudgeAnswer),
                    usage=usage,
                    attempts=1,
                    attempt_seconds=seconds,
                )
        except (GaveUp, TimeoutError) as exc:
            problem = exc.problem if isinstance(exc, GaveUp) else f"no answer within {seconds} s"
            log.warning("the intent judge had no answer: %s", problem)
            return None, usage.prompt, usage.completion
        return answer, usage.prompt, usage.completion

    async def _endpoint(self, campaign_id: int) -> _Endpoint | None:
        """The campaign's LLM (its outreach settings' endpoint and model, its own key), else the
        settings'; None when neither names an endpoint."""
        async with self._db.session() as session:
            row = (
                await session.execute(
                    select(Campaign.outreach, Campaign.llm_key_secret).where(
                        Campaign.id == campaign_id
                    )
                )
            ).first()
        if row is None:
            return None
        try:
            policy = OutreachPolicy.model_validate(row.outreach or {})
        except ValidationError:
            policy = OutreachPolicy()  # the manager reports broken outreach settings
        base_url = policy.llm_base_url or self._settings.llm_base_url
        if not base_url:
            return None
        key = None
        if row.llm_key_secret is not None and self._box is not None:
            key = SecretStr(self._box.decrypt(row.llm_key_secret))
        model = policy.llm_model or self._settings.llm_model
        return _Endpoint(base_url, model, key, policy.offer)

    async def _count(
        self, campaign_id: int, outcome: Outcome, prompt: int = 0, completion: int = 0
    ) -> None:
        JUDGE_CALLS.labels(outcome).inc()
        cost = cost_of(prompt, completion, self._settings)
        JUDGE_TOKENS.labels("prompt").inc(prompt)
        JUDGE_TOKENS.labels("completion").inc(completion)
        JUDGE_COST.inc(cost)
        row: dict[str, object] = dict.fromkeys(_COUNTS, 0)
        row.update(
            campaign_id=campaign_id,
            day=datetime.now(UTC).date(),
            calls=int(outcome != "instructed"),
            leads=int(outcome == "lead"),
            not_leads=int(outcome == "not_lead"),
            fallbacks=int(outcome in ("no_answer", "instructed")),
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost=cost,
        )
        async with self._db.transaction() as session:
            await upsert_adding(
                session, IntentJudgeDailyCount, [row], key=("campaign_id", "day"), add=_COUNTS
            )
