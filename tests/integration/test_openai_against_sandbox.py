"""The real `openai` client against the sandbox's /v1/chat/completions: replies, usage, JSON
schemas, and the failures our retries must handle."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest
from openai import Omit, omit
from openai.types.chat import ChatCompletion
from openai.types.chat.completion_create_params import ResponseFormat
from openai.types.shared_params import ResponseFormatJSONSchema

from sandbox.bootstrap import RunningSandbox


@pytest.fixture
async def client(sandbox: RunningSandbox) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=f"{sandbox.url}/v1", api_key="sandbox-key", max_retries=0, timeout=2.0
    ) as llm:
        yield llm


async def _control(sandbox: RunningSandbox, body: dict[str, object]) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sandbox.url}/_sandbox/llm", json=body) as r,
    ):
        assert r.status == 200, await r.text()


async def _ask(
    client: openai.AsyncOpenAI, text: str, response_format: ResponseFormat | Omit = omit
) -> str:
    response = await client.chat.completions.create(
        model="sandbox-1",
        messages=[
            {"role": "system", "content": "You are polite."},
            {"role": "user", "content": text},
        ],
        response_format=response_format,
    )
    assert response.usage is not None and response.usage.total_tokens > 0
    return response.choices[0].message.content or ""


async def test_same_conversation_gets_the_same_reply(client: openai.AsyncOpenAI) -> None:
    first = await _ask(client, "Ищу разработчика для сайта")
    assert first and first == await _ask(client, "Ищу разработчика для сайта")


async def test_a_json_schema_request_gets_an_object_with_every_required_field(
    client: openai.AsyncOpenAI,
) -> None:
    schema = {
        "type": "object",
        "properties": {
            "reply": {"type": "string"},
            "stage": {"type": "string", "enum": ["introduction", "offer"]},
            "wants_human": {"type": "boolean"},
            "opted_out": {"type": "boolean"},
        },
        "required": ["reply", "stage", "wants_human", "opted_out"],
        "additionalProperties": False,
    }
    fmt: ResponseFormatJSONSchema = {
        "type": "json_schema",
        "json_schema": {"name": "turn", "schema": schema, "strict": True},
    }
    turn = json.loads(await _ask(client, "hello", response_format=fmt))
    assert turn["stage"] == "introduction"
    assert turn["wants_human"] is False and turn["opted_out"] is False
    assert isinstance(turn["reply"], str) and turn["reply"]


async def test_injected_429_raises_rate_limit_with_retry_after(
    client: openai.AsyncOpenAI, sandbox: RunningSandbox
) -> None:
    await _control(sandbox, {"fail_next": [{"kind": "rate_limit", "retry_after": 3}]})
    with pytest.raises(openai.RateLimitError) as caught:
        await _ask(client, "hi")
    assert caught.value.response.headers["retry-after"] == "3"
    assert await _ask(client, "hi")  # the next call succeeds


async def test_injected_500_and_hang_raise_the_clients_own_errors(
    client: openai.AsyncOpenAI, sandbox: RunningSandbox
) -> None:
    await _control(sandbox, {"fail_next": [{"kind": "server_error"}, {"kind": "hang"}]})
    with pytest.raises(openai.InternalServerError):
        await _ask(client, "hi")
    with pytest.raises(openai.APITimeoutError):
        await _ask(client, "hi")


async def test_latency_is_applied(client: openai.AsyncOpenAI, sandbox: RunningSandbox) -> None:
    await _control(sandbox, {"latency_ms": 300})
    started = time.monotonic()
    await _ask(client, "hi")
    assert time.monotonic() - started >= 0.3


async def test_a_malformed_request_is_a_400_with_a_reason(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="messages"):
        await client.chat.completions.create(model="sandbox-1", messages=[])


async def test_injected_garbage_is_not_a_valid_completion(
    client: openai.AsyncOpenAI, sandbox: RunningSandbox
) -> None:
    # The client hands back the raw text of a non-JSON answer: callers must check what they got.
    await _control(sandbox, {"fail_next": [{"kind": "garbage"}]})
    result = await client.chat.completions.create(
        model="sandbox-1", messages=[{"role": "user", "content": "hi"}]
    )
    assert not isinstance(result, ChatCompletion)
