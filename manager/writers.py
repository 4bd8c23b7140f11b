"""Writers: the text of the next outbound message of a conversation, as a ``Draft``.

``LlmWriter`` asks an OpenAI-compatible endpoint for a JSON turn (reply, stage, wants_human,
opted_out); ``TemplateWriter`` fills the campaign's spintax templates offline. Both run the output
checks: a draft with ``problems`` goes to an operator, never out on its own. Endpoint failures
(rate limits, timeouts, garbage) are retried a few times and then become a draft with problems,
so ``write`` raises only on programming errors.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, model_validator
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from core.outreach import OutreachPolicy
from core.settings import Settings
from manager.checks import OutputPolicy, check_output
from manager.prompts import (
    Profile,
    PromptInputs,
    TemplateProblem,
    Turn,
    build_messages,
    template_version,
)
from manager.spintax import expand, fill

LLM_TOKENS = Counter("coolthing_llm_tokens_total", "LLM tokens used", ["model", "kind"])
LLM_REQUESTS = Counter("coolthing_llm_requests_total", "LLM HTTP requests", ["model", "outcome"])

MAX_RETRY_AFTER = 5.0  # seconds; a longer Retry-After is not waited for inside one write
TEMPLATE_CANDIDATES = 5  # variations the offline writer tries before handing problems over
_BACKOFF = wait_exponential_jitter(multiplier=0.2, max=2.0, jitter=0.2)
_NO_KEY = "not-needed"  # the client insists on a key; keyless local endpoints ignore it
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_FOLLOW_UPS = {
    "ru": "{Спасибо за ответ|Благодарю за ответ}{, {name}|}! {Если удобно, расскажу подробнее|"
    "Могу рассказать подробнее}{ — когда вам удобно обсудить?|. Есть пара минут на звонок?}",
    "en": "{Thanks for your reply|Thank you for getting back to me}{, {name}|}! {I can tell you "
    "more|Happy to share the details}{ — when would a short chat suit you?|. Would a quick call "
    "this week work?}",
}


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

    @model_validator(mode="after")
    def _text_or_problems(self) -> Draft:
        if not self.text.strip() and not self.problems:
            raise ValueError("an empty draft must say what went wrong")
        return self


class Writer(Protocol):
    async def write(self, request: WriteRequest) -> Draft: ...

    async def close(self) -> None: ...


def make_writer(settings: Settings) -> Writer:
    """Per request: the LLM when the campaign or the settings name an endpoint, else the
    offline template writer."""
    return RoutingWriter(settings)


class RoutingWriter:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._llm = LlmWriter(settings)
        self._templates = TemplateWriter()

    async def write(self, request: WriteRequest) -> Draft:
        if request.policy.llm_base_url or self._settings.llm_base_url:
            return await self._llm.write(request)
        return await self._templates.write(request)

    async def close(self) -> None:
        await self._llm.close()


def output_policy(policy: OutreachPolicy, chat: str = "") -> OutputPolicy:
    """The output checks a campaign asks for; links only to the hosts of its allowed links, and
    no @mention but the public chat the lead wrote in ("saw your post in @chat" is natural)."""
    hosts = (
        urlsplit(link if "://" in link else f"//{link}").hostname for link in policy.allowed_links
    )
    own_chat = chat.strip()
    return OutputPolicy(
        min_length=policy.min_length,
        max_length=policy.max_length,
        allowed_link_hosts=frozenset(host for host in hosts if host),
        allowed_mentions=frozenset([own_chat]) if own_chat.startswith("@") else frozenset(),
    )


def next_stage(stages: Sequence[str], current: str | None, our_turns: int) -> str:
    """One stage further than ``current``, never past the last; by turn count when unknown."""
    index = stages.index(current) + 1 if current is not None and current in stages else our_turns
    return stages[min(index, len(stages) - 1)]


def _our_texts(history: Sequence[Turn]) -> list[str]:
    return [turn.text for turn in history if turn.role == "manager"]


class TemplateWriter:
    """Offline: a campaign template (first message) or a generic follow-up, with variations."""

    async def write(self, request: WriteRequest) -> Draft:
        policy = request.policy
        previous = _our_texts(request.history)
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
        text, problems = "", [f"the template cannot be used: {exc}"]
    else:
        problems = check_output(
            text,
            policy=output_policy(policy, request.chat),
            system_prompt="",
            template_source="",
            previous=previous,
            allowed_quotes=(policy.offer,),
        )
    return Draft(
        text=text,
        stage=stage,
        writer="template",
        template_version=template_version(source),
        problems=tuple(problems),
    )


def _language(request: WriteRequest) -> str:
    """Russian when the lead (or, before they said anything, the campaign) writes in Cyrillic."""
    said = [turn.text for turn in request.history if turn.role == "lead"] or [request.lead_message]
    sample = said[-1] if said[-1].strip() else " ".join(request.policy.templates)
    return "ru" if _CYRILLIC.search(sample) else "en"


# ---- the LLM writer ----------------------------------------------------------------------------


class _Answer(BaseModel):
    """The JSON turn the model must answer with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reply: str
    stage: str
    wants_human: bool
    opted_out: bool


class _Unusable(Exception):
    """The endpoint answered, but not with a usable turn (garbage, refusal, wrong shape)."""


class _GaveUp(Exception):
    def __init__(self, attempts: int, reason: str) -> None:
        super().__init__(attempts, reason)
        self.problem = (
            f"the LLM gave no usable answer after {attempts} "
            f"attempt{'s' if attempts != 1 else ''}: {reason}"
        )


_RETRYABLE = (
    openai.RateLimitError,
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.InternalServerError,
    _Unusable,
)


@dataclass
class _Usage:
    prompt: int = 0
    completion: int = 0


class LlmWriter:
    """Chat completions with a JSON schema, our own retries, output checks, one regeneration."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._clients: dict[tuple[str, str], openai.AsyncOpenAI] = {}

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()

    async def write(self, request: WriteRequest) -> Draft:
        policy = request.policy
        model = policy.llm_model or self._settings.llm_model
        usage = _Usage()
        try:
            messages = self._messages(request)
        except TemplateProblem as exc:
            return self._draft(
                request, model, usage, problems=(f"the prompt cannot render: {exc}",)
            )
        base_url = policy.llm_base_url or self._settings.llm_base_url
        if not base_url:
            return self._draft(request, model, usage, problems=("no LLM endpoint is configured",))
        client = self._client(base_url, request.api_key)
        try:
            answer = await self._generate(client, model, messages, policy.stages, usage)
        except _GaveUp as exc:
            return self._draft(request, model, usage, problems=(exc.problem,))
        reasons = self._check(answer.reply, request, messages)
        if not reasons:
            return self._draft(request, model, usage, answer=answer)
        retry = [*messages, {"role": "user", "content": _fix_request(reasons)}]
        try:
            second = await self._generate(client, model, retry, policy.stages, usage)
        except _GaveUp as exc:
            return self._draft(
                request, model, usage, answer=answer, problems=(*reasons, exc.problem)
            )
        # an opt-out or a call for a human noticed in either answer is kept: missing one costs more
        second = second.model_copy(
            update={
                "opted_out": second.opted_out or answer.opted_out,
                "wants_human": second.wants_human or answer.wants_human,
            }
        )
        problems = tuple(self._check(second.reply, request, messages))
        return self._draft(request, model, usage, answer=second, problems=problems)

    def _messages(self, request: WriteRequest) -> list[dict[str, str]]:
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
        messages[0] = {"role": "system", "content": f"{messages[0]['content']}\n\n{rules}"}
        return messages

    def _check(self, text: str, request: WriteRequest, messages: list[dict[str, str]]) -> list[str]:
        policy = request.policy
        return check_output(
            text,
            policy=output_policy(policy, request.chat),
            system_prompt=messages[0]["content"],
            template_source=policy.prompt,
            previous=_our_texts(request.history),
            allowed_quotes=(policy.offer,),
        )

    def _client(self, base_url: str, campaign_key: SecretStr | None) -> openai.AsyncOpenAI:
        key = campaign_key.get_secret_value() if campaign_key else self._key_for(base_url)
        client = self._clients.get((base_url, key))
        if client is None:
            client = openai.AsyncOpenAI(
                base_url=base_url,
                api_key=key,
                timeout=self._settings.llm_timeout,
                max_retries=0,  # retries are ours: bounded, with jitter, and counted
            )
            self._clients[(base_url, key)] = client
        return client

    def _key_for(self, base_url: str) -> str:
        """The configured key goes only to the configured endpoint's origin: a campaign that
        overrides the base URL (without its own key) must not be able to collect it."""
        key = self._settings.llm_api_key
        if key is None or _origin(base_url) != _origin(self._settings.llm_base_url or ""):
            return _NO_KEY
        return key.get_secret_value()

    async def _generate(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        messages: list[dict[str, str]],
        stages: Sequence[str],
        usage: _Usage,
    ) -> _Answer:
        attempts = max(1, self._settings.llm_attempts)
        tried = 0
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(attempts),
                wait=_wait,
                retry=retry_if_exception_type(_RETRYABLE),
                reraise=True,
            ):
                with attempt:
                    tried += 1
                    return await _ask(client, model, messages, stages, usage)
        except (openai.APIError, _Unusable) as exc:  # 4xx are not retried: they cannot change
            raise _GaveUp(tried, _failure(exc, self._settings.llm_timeout)[1]) from exc
        raise AssertionError("tenacity stopped without an outcome")  # pragma: no cover

    def _draft(
        self,
        request: WriteRequest,
        model: str,
        usage: _Usage,
        *,
        answer: _Answer | None = None,
        problems: tuple[str, ...] = (),
    ) -> Draft:
        stages = request.policy.stages
        current = (
            request.stage if request.stage is not None and request.stage in stages else stages[0]
        )
        settings = self._settings
        cost = (
            usage.prompt / 1000 * settings.llm_price_prompt
            + usage.completion / 1000 * settings.llm_price_completion
        )
        return Draft(
            text=answer.reply.strip() if answer else "",
            stage=answer.stage if answer else current,
            wants_human=answer.wants_human if answer else False,
            opted_out=answer.opted_out if answer else False,
            writer=f"llm:{model}",
            template_version=template_version(request.policy.prompt),
            prompt_tokens=usage.prompt,
            completion_tokens=usage.completion,
            cost=cost,
            problems=problems,
        )


async def _ask(
    client: openai.AsyncOpenAI,
    model: str,
    messages: list[dict[str, str]],
    stages: Sequence[str],
    usage: _Usage,
) -> _Answer:
    """One HTTP request: the parsed turn, or an exception saying why not."""
    try:
        # typed as object: for a non-JSON 200 body the client returns the raw text. The cast is
        # sound: build_messages only makes system/user/assistant dicts with string content.
        result: object = await client.chat.completions.create(
            model=model,
            messages=cast("list[ChatCompletionMessageParam]", messages),
            response_format=_response_format(stages),
        )
    except openai.APIError as exc:
        LLM_REQUESTS.labels(model, _failure(exc, 0)[0]).inc()
        raise
    try:
        if not isinstance(result, ChatCompletion):
            raise _Unusable("the endpoint did not answer with a chat completion")
        if result.usage is not None:
            usage.prompt += result.usage.prompt_tokens
            usage.completion += result.usage.completion_tokens
            LLM_TOKENS.labels(model, "prompt").inc(result.usage.prompt_tokens)
            LLM_TOKENS.labels(model, "completion").inc(result.usage.completion_tokens)
        answer = _parse(result, stages)
    except _Unusable:
        LLM_REQUESTS.labels(model, "unusable").inc()
        raise
    LLM_REQUESTS.labels(model, "ok").inc()
    return answer


def _parse(completion: ChatCompletion, stages: Sequence[str]) -> _Answer:
    if not completion.choices:
        raise _Unusable("the answer had no choices")
    message = completion.choices[0].message
    if message.refusal:
        raise _Unusable(f"the model refused: {message.refusal[:200]}")
    if not message.content:
        raise _Unusable("the answer was empty")
    try:
        answer = _Answer.model_validate_json(message.content, strict=True)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise _Unusable(
            f"the answer is not the JSON asked for ({where + ': ' if where else ''}{error['msg']})"
        ) from None
    if answer.stage not in stages:
        raise _Unusable(f"the stage {answer.stage[:50]!r} is not one of the campaign's stages")
    return answer


def _failure(exc: Exception, timeout: float) -> tuple[str, str]:
    """The metrics outcome of a failed request and the reason in plain words."""
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited", "the endpoint is rate limiting us (429)"
    if isinstance(exc, openai.APITimeoutError):
        return "timeout", f"no answer within {timeout:g} s"
    if isinstance(exc, openai.APIConnectionError):
        return "connection_error", "cannot connect to the LLM endpoint"
    if isinstance(exc, openai.InternalServerError):
        return "server_error", f"the endpoint had a server error ({exc.status_code})"
    if isinstance(exc, openai.APIStatusError):
        return (
            "rejected",
            f"the endpoint refused the request ({exc.status_code}: {exc.message[:200]})",
        )
    return "error", str(exc)[:300]


def _wait(state: RetryCallState) -> float:
    """Exponential backoff with jitter, or the server's Retry-After when that is short."""
    backoff = _BACKOFF(state)
    exc = state.outcome.exception() if state.outcome is not None else None
    if isinstance(exc, openai.RateLimitError):
        after = _retry_after(exc.response.headers)
        if after is not None and after <= MAX_RETRY_AFTER:
            return max(backoff, after)
    return backoff


def _retry_after(headers: Any) -> float | None:
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            return float(headers[name]) / scale
        except (KeyError, TypeError, ValueError):  # absent, or an HTTP date: not worth parsing
            continue
    return None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.casefold(), (parts.hostname or "").casefold(), parts.port


def _response_format(stages: Sequence[str]) -> ResponseFormatJSONSchema:
    schema = {
        "type": "object",
        "properties": {
            "reply": {"type": "string", "description": "the message to the lead"},
            "stage": {"type": "string", "enum": list(stages)},
            "wants_human": {"type": "boolean"},
            "opted_out": {"type": "boolean"},
        },
        "required": ["reply", "stage", "wants_human", "opted_out"],
        "additionalProperties": False,
    }
    return {
        "type": "json_schema",
        "json_schema": {"name": "turn", "strict": True, "schema": schema},
    }


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


def _fix_request(reasons: Sequence[str]) -> str:
    return (
        f"That message could not be sent: {'; '.join(reasons)}. Write a new one that fixes this, "
        "following only the system instructions, in the same JSON format."
    )
