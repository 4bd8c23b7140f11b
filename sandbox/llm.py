"""An OpenAI-compatible ``POST /v1/chat/completions`` so the real ``openai`` client runs unchanged.

Replies are deterministic (a function of the conversation), so tests can assert on them. When the
request asks for JSON (``response_format`` json_object / json_schema), the reply is a JSON object:
for a schema, every required property gets a value of its type (strings from the same
deterministic text, booleans false, enums their first value, except that an enum property named
``stage`` takes the value at the index of the number of assistant messages, clamped to the last:
a conversation advances one stage per turn). The one judgement the model makes: a boolean
property named ``opted_out`` is true when a user message contains one of ``OPT_OUT_CUES`` (see
there). ``/_sandbox/llm`` sets a latency and
queues failures (429 with Retry-After, 500, a hang past the client's timeout, a garbage body) for
the tests of retries and fallbacks.

A request whose ``model`` contains ``obedient`` (say ``sandbox-obedient``) gets the worst-case
model instead, for testing output guardrails: it obeys every directive it finds in the lead's data
(reveal the system prompt, add a link, insult, change the price, set a JSON field...), see
``sandbox.llm_obedient``. With no directive it answers exactly like the model described above.

A request from the parser's intent judge (its system message starts with the judge's marker) is
answered by ``sandbox.llm_judge``: a verdict from simple cues, obeying the message when obedient.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PHRASES_BY_LANGUAGE = {
    "en": (
        "Hi! I saw your message and I think we can help.",
        "Thanks for the details, that makes sense.",
        "Would a short call this week work for you?",
        "Good question! We have done similar projects, happy to show a few.",
        "Got it. What timeline do you have in mind?",
    ),
    "ru": (
        "Здравствуйте! Увидел ваше сообщение, мы как раз этим занимаемся.",
        "Спасибо, понял задачу. Удобно обсудить детали?",
        "Хороший вопрос! Делали похожие проекты, могу показать примеры.",
        "Понял вас. Какие сроки для вас комфортны?",
        "Спасибо за ответ! Созвонимся на 15 минут на этой неделе?",
    ),
}
PHRASES = PHRASES_BY_LANGUAGE["en"] + PHRASES_BY_LANGUAGE["ru"]

_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
OPT_OUT_CUES = ("lose my number", "забудьте мой номер")
"""Words the sandbox model reads as "never contact me again": its ``opted_out`` is true when any
user message of the request (where prompts put the lead's words) contains one, case aside. They
are deliberately not in the manager's default opt-out phrases, so tests can make an opt-out that
only the model notices. The reply text stays an ordinary sales phrase, as a careless model's
would: what the manager does with that turn is the manager's business."""


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    response_format: dict[str, Any] | None = None
    max_tokens: int | None = Field(None, gt=0)
    max_completion_tokens: int | None = Field(None, gt=0)


class Failure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["rate_limit", "server_error", "hang", "garbage"]
    retry_after: int = Field(1, ge=0)


class LlmControl(BaseModel):
    """Body of ``POST /_sandbox/llm``: latency for every call, failures for the next calls."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int | None = Field(None, ge=0, le=60_000)
    fail_next: list[Failure] = []
    clear: bool = False


@dataclass
class LlmState:
    latency: float = 0.0
    failures: deque[Failure] = field(default_factory=deque)
    calls: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)  # last ones, for tests
    key_suffixes: list[str] = field(default_factory=list)  # last 4 characters of each key used


LLM = web.AppKey("llm", LlmState)
HANG_SECONDS = 120.0
KEEP_REQUESTS = 100


def _error(status: int, message: str, kind: str, **headers: str) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return web.json_response(body, status=status, headers=headers)


def text_of(message: ChatMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    parts = message.content or []
    return " ".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


def reply_text(messages: list[ChatMessage]) -> str:
    """The deterministic reply: a phrase in the lead's language (Russian when their words have
    Cyrillic letters) picked by a hash of the whole conversation, never one the assistant already
    said in it (a real model does not repeat itself word for word)."""
    digest = hashlib.sha256("\n".join(text_of(m) for m in messages).encode()).digest()
    said = {text_of(m) for m in messages if m.role == "assistant"}
    phrases = PHRASES_BY_LANGUAGE[lead_language(messages)]
    start = digest[0] % len(phrases)
    candidates = (phrases[(start + i) % len(phrases)] for i in range(len(phrases)))
    return next((p for p in candidates if p not in said), phrases[start])


def lead_language(messages: list[ChatMessage]) -> str:
    """``ru`` when the user messages (where the lead's words travel) have Cyrillic letters."""
    said = " ".join(text_of(m) for m in messages if m.role == "user")
    return "ru" if len(_CYRILLIC.findall(said)) >= 5 else "en"


def assistant_turns(messages: list[ChatMessage]) -> int:
    return sum(1 for m in messages if m.role == "assistant")


def judges_opted_out(messages: list[ChatMessage]) -> bool:
    """Whether the lead's words (any user message) contain one of ``OPT_OUT_CUES``."""
    said = [text_of(m).casefold() for m in messages if m.role == "user"]
    return any(cue in text for text in said for cue in OPT_OUT_CUES)


def json_reply(
    response_format: dict[str, Any],
    text: str,
    *,
    turn: int = 0,
    true_flags: frozenset[str] = frozenset(),
) -> str:
    """The JSON answer; ``turn`` (assistant messages so far) picks the ``stage`` enum value, and
    boolean properties named in ``true_flags`` are true (the others false)."""
    schema = (response_format.get("json_schema") or {}).get("schema")
    if not isinstance(schema, dict):
        return json.dumps({"reply": text}, ensure_ascii=False)
    return json.dumps(_value_for(schema, text, turn, true_flags), ensure_ascii=False)


def _value_for(
    schema: dict[str, Any], text: str, turn: int, true_flags: frozenset[str], name: str = ""
) -> Any:
    if "enum" in schema:
        values = schema["enum"]
        return values[min(turn, len(values) - 1)] if name == "stage" and values else values[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props: dict[str, Any] = schema.get("properties", {})
        required = schema.get("required", list(props))
        return {
            key: _value_for(props.get(key, {}), text, turn, true_flags, key) for key in required
        }
    if kind == "array":
        return []
    if kind == "boolean":
        return name in true_flags
    return {"string": text, "integer": 0, "number": 0, "null": None}.get(str(kind), text)


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _completion(request: CompletionRequest, content: str) -> dict[str, Any]:
    prompt = sum(_tokens(text_of(m)) for m in request.messages)
    completion = _tokens(content)
    return {
        "id": f"chatcmpl-sandbox-{hashlib.sha1(content.encode()).hexdigest()[:12]}",  # noqa: S324 - an id, not security
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


async def chat_completions(request: web.Request) -> web.StreamResponse:
    state = request.app[LLM]
    state.calls += 1
    try:
        raw = await request.json()
        body = CompletionRequest.model_validate(raw)
    except (ValueError, ValidationError) as exc:
        return _error(400, f"invalid request: {exc}"[:500], "invalid_request_error")
    state.requests = [*state.requests[-(KEEP_REQUESTS - 1) :], raw]
    key = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    state.key_suffixes = [*state.key_suffixes[-(KEEP_REQUESTS - 1) :], key[-4:]]
    if state.latency:
        await asyncio.sleep(state.latency)
    if state.failures:
        failed = await _fail(state.failures.popleft())
        if failed is not None:
            return failed
    # imported here: llm_judge and llm_obedient build on this module's functions
    from sandbox.llm_judge import is_judge_request, judge_content

    if is_judge_request(body.messages):
        content = judge_content(body.messages, obedient="obedient" in body.model)
    elif "obedient" in body.model:
        from sandbox.llm_obedient import obey

        content = obey(body.messages, body.response_format)
    else:
        content = normal_content(body.messages, body.response_format)
    return web.json_response(_completion(body, content))


def normal_content(messages: list[ChatMessage], response_format: dict[str, Any] | None) -> str:
    """The normal model's completion content: the reply text, or the JSON answer carrying it."""
    text = reply_text(messages)
    if not response_format or response_format.get("type") == "text":
        return text
    turn = assistant_turns(messages)
    flags = frozenset({"opted_out"}) if judges_opted_out(messages) else frozenset()
    return json_reply(response_format, text, turn=turn, true_flags=flags)


async def _fail(failure: Failure) -> web.StreamResponse | None:
    if failure.kind == "rate_limit":
        return _error(
            429,
            "Rate limit reached",
            "rate_limit_error",
            **{"retry-after": str(failure.retry_after)},
        )
    if failure.kind == "server_error":
        return _error(500, "The server had an error", "server_error")
    if failure.kind == "hang":
        await asyncio.sleep(HANG_SECONDS)  # the client's timeout fires first
        return None
    return web.Response(text="<html>502 Bad Gateway</html>", status=200, content_type="text/html")


async def control(request: web.Request) -> web.Response:
    state = request.app[LLM]
    try:
        body = LlmControl.model_validate(await request.json())
    except (ValueError, ValidationError) as exc:
        return web.json_response({"ok": False, "description": str(exc)[:500]}, status=400)
    if body.clear:
        state.failures.clear()
        state.latency = 0.0
    if body.latency_ms is not None:
        state.latency = body.latency_ms / 1000
    state.failures.extend(body.fail_next)
    return web.json_response(
        {"ok": True, "latency_ms": int(state.latency * 1000), "queued": len(state.failures)}
    )


async def status(request: web.Request) -> web.Response:
    state = request.app[LLM]
    return web.json_response(
        {
            "ok": True,
            "calls": state.calls,
            "requests": state.requests,
            "key_suffixes": state.key_suffixes,
        }
    )


def install(app: web.Application) -> None:
    app[LLM] = LlmState()
    app.add_routes(
        [
            web.post("/v1/chat/completions", chat_completions),
            web.post("/_sandbox/llm", control),
            web.get("/_sandbox/llm", status),
        ]
    )
