"""The LLM endpoint: chat completions asking for a JSON answer, our own bounded retries, usage.

Shared by the manager (``LlmClient.turn``: the next message of a conversation) and the parser's
intent judge (``LlmClient.answer`` with its own schema, one short attempt). Both return a parsed,
validated answer or raise ``GaveUp`` with the reason in plain words (rate limits, timeouts, garbage
and refusals are retried up to the attempts asked for; 4xx are not). The configured API key goes
only to the configured endpoint's origin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from core.settings import Settings

LLM_TOKENS = Counter("coolthing_llm_tokens_total", "LLM tokens used", ["model", "kind"])
LLM_REQUESTS = Counter("coolthing_llm_requests_total", "LLM HTTP requests", ["model", "outcome"])

MAX_RETRY_AFTER = 5.0  # seconds; a longer Retry-After is not waited for inside one write
_BACKOFF = wait_exponential_jitter(multiplier=0.2, max=2.0, jitter=0.2)
_NO_KEY = "not-needed"  # the client insists on a key; keyless local endpoints ignore it


class ModelTurn(BaseModel):
    """The JSON turn the model must answer with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reply: str
    stage: str
    wants_human: bool
    opted_out: bool


class Unusable(Exception):
    """The endpoint answered, but not with a usable answer (garbage, refusal, wrong shape)."""


T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Parse = Callable[[str], T]  # the completion's content → the answer, or ``Unusable`` saying why


class GaveUp(Exception):
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
    Unusable,
)


@dataclass
class Usage:
    prompt: int = 0
    completion: int = 0


class LlmClient:
    """One ``openai`` client per endpoint and key, shared by every conversation."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._clients: dict[tuple[str, str], openai.AsyncOpenAI] = {}

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()

    async def turn(
        self,
        *,
        base_url: str,
        api_key: SecretStr | None,
        model: str,
        messages: list[dict[str, str]],
        stages: Sequence[str],
        usage: Usage,
    ) -> ModelTurn:
        """The model's turn, retried on transient failures; ``GaveUp`` when there is none."""
        return await self.answer(
            base_url=base_url,
            api_key=api_key,
            model=model,
            messages=messages,
            response_format=response_format(stages),
            parse=partial(parse_turn, stages=stages),
            usage=usage,
        )

    async def answer(
        self,
        *,
        base_url: str,
        api_key: SecretStr | None,
        model: str,
        messages: list[dict[str, str]],
        response_format: ResponseFormatJSONSchema,
        parse: Parse[T],
        usage: Usage,
        attempts: int | None = None,
        attempt_seconds: float | None = None,
    ) -> T:
        """A JSON answer parsed by ``parse``; ``attempts`` and ``attempt_seconds`` (the timeout of
        each) default to the settings'. ``GaveUp`` when there is none."""
        client = self._client(base_url, api_key)
        attempts = max(1, attempts or self._settings.llm_attempts)
        timeout = attempt_seconds or self._settings.llm_timeout
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
                    return await _ask(
                        client, model, messages, response_format, parse, usage, timeout
                    )
        except (openai.APIError, Unusable) as exc:  # 4xx are not retried: they cannot change
            raise GaveUp(tried, _failure(exc, timeout)[1]) from exc
        raise AssertionError("tenacity stopped without an outcome")  # pragma: no cover

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


async def _ask(
    client: openai.AsyncOpenAI,
    model: str,
    messages: list[dict[str, str]],
    response_format: ResponseFormatJSONSchema,
    parse: Parse[T],
    usage: Usage,
    timeout: float,  # noqa: ASYNC109 - the client's own per-request timeout, not ours to wrap
) -> T:
    """One HTTP request: the parsed answer, or an exception saying why not."""
    try:
        # typed as object: for a non-JSON 200 body the client returns the raw text. The cast is
        # sound: callers only make system/user/assistant dicts with string content.
        result: object = await client.chat.completions.create(
            model=model,
            messages=cast("list[ChatCompletionMessageParam]", messages),
            response_format=response_format,
            timeout=timeout,
        )
    except openai.APIError as exc:
        LLM_REQUESTS.labels(model, _failure(exc, 0)[0]).inc()
        raise
    try:
        if not isinstance(result, ChatCompletion):
            raise Unusable("the endpoint did not answer with a chat completion")
        if result.usage is not None:
            usage.prompt += result.usage.prompt_tokens
            usage.completion += result.usage.completion_tokens
            LLM_TOKENS.labels(model, "prompt").inc(result.usage.prompt_tokens)
            LLM_TOKENS.labels(model, "completion").inc(result.usage.completion_tokens)
        answer = parse(_content(result))
    except Unusable:
        LLM_REQUESTS.labels(model, "unusable").inc()
        raise
    LLM_REQUESTS.labels(model, "ok").inc()
    return answer


def _content(completion: ChatCompletion) -> str:
    if not completion.choices:
        raise Unusable("the answer had no choices")
    message = completion.choices[0].message
    if message.refusal:
        raise Unusable(f"the model refused: {message.refusal[:200]}")
    if not message.content:
        raise Unusable("the answer was empty")
    return message.content


def parse_json(content: str, shape: type[M]) -> M:
    """The content validated (strictly) as ``shape``, or ``Unusable`` naming what is wrong."""
    try:
        return shape.model_validate_json(content, strict=True)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise Unusable(
            f"the answer is not the JSON asked for ({where + ': ' if where else ''}{error['msg']})"
        ) from None


def parse_turn(content: str, *, stages: Sequence[str]) -> ModelTurn:
    answer = parse_json(content, ModelTurn)
    if answer.stage not in stages:
        raise Unusable(f"the stage {answer.stage[:50]!r} is not one of the campaign's stages")
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


def response_format(stages: Sequence[str]) -> ResponseFormatJSONSchema:
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
