"""Bad input at the HTTP boundary is a 400 that names the field, never a 500 or a traceback."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest


async def request(http: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> Any:
    async with http.request(method, path, **kw) as response:
        return response.status, await response.json()


async def token(http: aiohttp.ClientSession) -> str:
    _, bot = await request(http, "POST", "/_sandbox/bots", json={"username": "alerts_bot"})
    return str(bot["token"])


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"text": "hi"}, "chat_id is empty"),
        ({"chat_id": "1", "text": "hi", "reply_markup": "{not json"}, "reply_markup"),
        (
            {"chat_id": "1", "text": "x", "reply_markup": '{"inline_keyboard": [[{"text": ""}]]}'},
            "inline_keyboard",
        ),
        ({"chat_id": "1", "text": "x" * 5000}, "message is too long"),
    ],
)
async def test_bot_api_bad_parameters_are_400_naming_the_problem(
    http: aiohttp.ClientSession, form: dict[str, str], field: str
) -> None:
    status, body = await request(http, "POST", f"/bot{await token(http)}/sendMessage", data=form)

    assert status == 400 and body["ok"] is False and body["error_code"] == 400
    assert body["description"].startswith("Bad Request:") and field in body["description"]


async def test_bot_api_accepts_json_bodies_and_query_strings(http: aiohttp.ClientSession) -> None:
    bot = await token(http)

    status, body = await request(http, "POST", f"/bot{bot}/getUpdates", json={"timeout": 0})
    assert (status, body) == (200, {"ok": True, "result": []})
    status, body = await request(http, "GET", f"/bot{bot}/getUpdates?timeout=abc")
    assert status == 400 and "timeout" in body["description"]
    status, body = await request(
        http,
        "POST",
        f"/bot{bot}/getUpdates",
        data="[1]",
        headers={"Content-Type": "application/json"},
    )
    assert status == 400


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "needle"),
    [
        ("POST", "/_sandbox/accounts", {"first_name": ""}, 400, "first_name"),
        ("POST", "/_sandbox/chats", {"ref": "ok_chat"}, 400, "title"),
        ("POST", "/_sandbox/chats", {"ref": "a b", "title": "x"}, 400, "not a valid username"),
        ("POST", "/_sandbox/faults", {"kind": "flood_wait", "account": 1}, 400, "seconds"),
        ("POST", "/_sandbox/faults", {"kind": "ban", "account": 999}, 404, "no account"),
        ("POST", "/_sandbox/audience/start", {"rate": -1}, 400, "rate"),
        ("POST", "/_sandbox/audience/start", {"chats": ["@nope_chat"]}, 400, "chats"),
        ("POST", "/_sandbox/post", {"chat": "nope_chat", "text": "x"}, 404, "no chat"),
        ("GET", "/_sandbox/messages?chat=nope_chat", None, 404, "no chat"),
        ("GET", "/_sandbox/nothing-here", None, 404, "Not Found"),
        ("PUT", "/_sandbox/chats", None, 405, "Method Not Allowed"),
        ("POST", "/user/join", {"ref": "x"}, 401, "Authorization"),
    ],
)
async def test_admin_and_user_api_refusals_are_json_with_a_clear_description(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
    needle: str,
) -> None:
    got, answer = await request(http, method, path, json=body)

    assert got == status and answer["ok"] is False
    assert needle in answer["description"]


async def test_a_non_json_body_is_a_400_not_a_500(http: aiohttp.ClientSession) -> None:
    status, body = await request(
        http,
        "POST",
        "/_sandbox/accounts",
        data=b"\xff{",
        headers={"Content-Type": "application/json"},
    )

    assert status == 400 and body["error"] == "BAD_REQUEST" and "JSON" in body["description"]


async def test_user_api_validates_its_bodies_and_queries(http: aiohttp.ClientSession) -> None:
    _, account = await request(http, "POST", "/_sandbox/accounts", json={"first_name": "P"})
    auth = {"Authorization": f"Session {account['session']}"}

    status, body = await request(http, "POST", "/user/messages", json={"peer": 1}, headers=auth)
    assert status == 400 and "text" in body["description"]
    status, body = await request(http, "GET", "/user/updates?limit=0", headers=auth)
    assert status == 400 and "limit" in body["description"]
    status, body = await request(http, "POST", "/user/join", data=json.dumps([1]), headers=auth)
    assert status == 400
