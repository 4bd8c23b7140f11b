"""A banned parser account's chats move to the campaign's other parser account, and leads keep
coming from those chats."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Stack, sandbox_call, wait_for
from tests.e2e.conftest import boot_parser_mode

pytestmark = pytest.mark.e2e

CHATS = ["jobs_one", "jobs_two", "jobs_three", "jobs_four"]


def _workspace(sessions: list[str]) -> str:
    return f"""\
accounts:
  - {{name: parser-1, role: parser, session: "{sessions[0]}"}}
  - {{name: parser-2, role: parser, session: "{sessions[1]}"}}
keyword_sets:
  - {{name: web-dev, keywords: [разработчик, developer], exclude: [вакансия]}}
campaigns:
  - name: web
    keyword_sets: [web-dev]
    chats: ["@jobs_one", "@jobs_two", "@jobs_three", "@jobs_four"]
    parser_accounts: [parser-1, parser-2]
"""


async def _api(http: httpx.AsyncClient, stack: Stack, path: str) -> list[dict[str, object]]:
    response = await http.get(f"{stack.api_url}/api/v1/{path}")
    assert response.status_code == 200, response.text
    body: list[dict[str, object]] = response.json()
    return body


async def test_banned_account_chats_move_to_the_other_account(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    user_ids = await boot_parser_mode(stack, http, CHATS, _workspace)
    chats = await wait_for(lambda: _api(http, stack, "chats"), seconds=30, what="the API")
    assert isinstance(chats, list)
    first_account_chats = [c["ref"] for c in chats if c["listener_account_id"] == 1]
    assert first_account_chats, "both accounts should listen somewhere before the ban"

    await sandbox_call(http, stack, "/_sandbox/faults", {"kind": "ban", "account": user_ids[0]})

    async def all_on_second_account() -> bool:
        listeners = {c["listener_account_id"] for c in await _api(http, stack, "chats")}
        return listeners == {2}

    await wait_for(all_on_second_account, seconds=60, what="chats to move to account 2")
    accounts = {a["name"]: a for a in await _api(http, stack, "accounts")}
    assert accounts["parser-1"]["status"] == "banned"
    assert accounts["parser-2"]["status"] == "active"

    async def second_account_is_member() -> bool:
        listed = (await sandbox_call(http, stack, "/_sandbox/chats"))["chats"]
        return all(user_ids[1] in c["members"] for c in listed if c["ref"] in CHATS)

    await wait_for(second_account_is_member, seconds=60, what="account 2 to join")
    moved = first_account_chats[0].lstrip("@")
    post = {"chat": moved, "text": "Нужен разработчик на лендинг, срочно"}
    author = (await sandbox_call(http, stack, "/_sandbox/post", post))["message"]["sender"]

    async def lead_from_moved_chat() -> bool:
        page = (await http.get(f"{stack.api_url}/api/v1/leads")).json()
        return any(lead["telegram_user_id"] == author["user_id"] for lead in page["items"])

    await wait_for(lead_from_moved_chat, seconds=30, what="a lead from the moved chat")
