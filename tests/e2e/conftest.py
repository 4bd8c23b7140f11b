"""End-to-end fixtures: each service as its own `coolthing` process on PostgreSQL and RabbitMQ
(the stack itself lives in ``tests/conftest.py``, shared with the browser tier), and the helpers
the outreach tests share: the workspace, posting in the chat, the DMs people got."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from bench.private_services import PrivateServices, open_private_services
from tests.conftest import Stack, consuming, outreach_workspace, sandbox_call, wait_for


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def boot_parser_mode(
    stack: Stack,
    http: httpx.AsyncClient,
    chats: list[str],
    workspace: Callable[[list[str]], str],
) -> list[int]:
    """Sandbox with ``chats`` and two parser accounts, the workspace applied, parser, admin and
    one worker per account running and listening. Returns the accounts' Telegram user ids."""
    stack.start("sandbox", "sandbox")  # it needs no database: it starts while the schema is made
    await stack.migrate()
    http.headers["Authorization"] = f"Bearer {await stack.add_user('alice', 'operator')}"
    await wait_for(
        lambda: sandbox_call(http, stack, "/_sandbox/health"), seconds=20, what="sandbox"
    )
    for chat in chats:
        await sandbox_call(http, stack, "/_sandbox/chats", {"ref": chat, "title": chat})
    created = [
        await sandbox_call(http, stack, "/_sandbox/accounts", {"first_name": f"Parser{i}"})
        for i in (1, 2)
    ]
    (stack.logs / "ws.yaml").write_text(workspace([a["session"] for a in created]), "utf-8")
    await stack.apply_workspace(stack.logs / "ws.yaml")
    stack.start("parser", "parser")
    stack.start("admin", "admin")
    stack.start("bots-1", "bots", "--account", "1")
    stack.start("bots-2", "bots", "--account", "2")

    async def everyone_listens() -> bool:
        listed = (await sandbox_call(http, stack, "/_sandbox/chats"))["chats"]
        return all(c["members"] for c in listed if c["ref"] in chats)

    await wait_for(everyone_listens, seconds=60, what="workers to join their chats")
    return [int(a["user_id"]) for a in created]


CHAT = "web_jobs"
FAST = """\
      quiet_hours: null
      min_gap_seconds: 0
      max_gap_seconds: 0
      warmup_days: 0
      new_dms_per_day: 10000
      messages_per_minute: 1000"""


def workspace(
    *, approval: bool = False, second_campaign: bool = False, sites_managers: str = "[manager-2]"
) -> Any:
    def render(sessions: list[str]) -> str:
        outreach = f"""\
      offer: "We build web apps in four weeks."
      approval: {str(approval).lower()}
{FAST}"""
        sites = f"""\
  - name: sites
    keyword_sets: [sites]
    chats: ["@{CHAT}"]
    parser_accounts: [parser-1]
    manager_accounts: {sites_managers}
    outreach:
      offer: "Landing pages in a week."
{FAST}
"""
        return outreach_workspace(sessions, CHAT, outreach, more=sites if second_campaign else "")

    return render


async def post_as(
    http: httpx.AsyncClient, stack: Stack, user_id: int, text: str, name: str = "Lead"
) -> None:
    body = {"chat": f"@{CHAT}", "text": text, "user": {"user_id": user_id, "first_name": name}}
    await sandbox_call(http, stack, "/_sandbox/post", body)


async def dms_to(http: httpx.AsyncClient, stack: Stack, user_id: int) -> list[dict[str, Any]]:
    """DMs the user received (from any of our accounts), oldest first."""
    listed = await sandbox_call(http, stack, f"/_sandbox/dms?user={user_id}")
    return [m for m in listed["messages"] if m["to"]["user_id"] == user_id]


async def reply_as(
    http: httpx.AsyncClient, stack: Stack, user_id: int, account_user_id: int, text: str
) -> None:
    body = {"user_id": user_id, "to": account_user_id, "text": text}
    await sandbox_call(http, stack, "/_sandbox/dm", body)


async def api(http: httpx.AsyncClient, stack: Stack, path: str) -> Any:
    response = await http.get(f"{stack.api_url}/api/v1/{path}")
    assert response.status_code == 200, response.text
    return response.json()


async def wait_for_dms(
    http: httpx.AsyncClient, stack: Stack, user_id: int, count: int, seconds: float = 30
) -> list[dict[str, Any]]:
    async def arrived() -> list[dict[str, Any]] | None:
        got = await dms_to(http, stack, user_id)
        return got if len(got) >= count else None

    found = await wait_for(arrived, seconds=seconds, what=f"{count} DM(s) to user {user_id}")
    assert isinstance(found, list)
    return found


# ---- scripts mode ------------------------------------------------------------------------------

OWN_CHAT = "our_launch"
OTHER_CHAT = "someone_elses"


def scenes_workspace(sessions: list[str]) -> str:
    accounts = "\n".join(
        f'  - {{name: actor-{n}, role: scripts, session: "{s}"}}' for n, s in enumerate(sessions, 1)
    )
    return f"""\
accounts:
{accounts}
keyword_sets:
  - {{name: pricing, keywords: [price, cost, стоимость]}}
chats:
  - {{ref: "@{OWN_CHAT}", title: Our launch, own: true, vars: {{link: "https://example.com"}}}}
  - {{ref: "@{OTHER_CHAT}", title: Someone else's group}}
"""


async def boot_scripts_mode(stack: Stack, http: httpx.AsyncClient, accounts: int = 3) -> list[int]:
    """Sandbox with an own chat and someone else's, ``accounts`` scripts accounts, the scripts
    service and a worker per account running (time compressed 50×). Returns their user ids."""
    stack.start("sandbox", "sandbox")  # it needs no database: it starts while the schema is made
    await stack.migrate()
    stack.env["COOLTHING_SCENE_TIME_SCALE"] = "0.02"
    await wait_for(
        lambda: sandbox_call(http, stack, "/_sandbox/health"), seconds=20, what="sandbox"
    )
    for chat in (OWN_CHAT, OTHER_CHAT):
        await sandbox_call(http, stack, "/_sandbox/chats", {"ref": chat, "title": chat})
    created = [
        await sandbox_call(http, stack, "/_sandbox/accounts", {"first_name": f"Actor{n}"})
        for n in range(1, accounts + 1)
    ]
    (stack.logs / "ws.yaml").write_text(scenes_workspace([a["session"] for a in created]), "utf-8")
    await stack.apply_workspace(stack.logs / "ws.yaml")
    stack.start("scripts", "scripts")
    for n in range(1, accounts + 1):
        stack.start(f"bots-{n}", "bots", "--account", str(n))
    queues = ["scripts.commands", "scripts.results", "scripts.chats"]
    queues += [f"bots.account.{n}" for n in range(1, accounts + 1)]
    await wait_for(
        lambda: consuming(stack.env["COOLTHING_BUS_URL"], queues),
        seconds=30,
        what="the scripts service and the workers to consume their queues",
    )
    return [int(a["user_id"]) for a in created]


async def chat_messages(http: httpx.AsyncClient, stack: Stack, chat: str) -> list[dict[str, Any]]:
    listed = await sandbox_call(http, stack, f"/_sandbox/messages?chat=@{chat}")
    return list(listed["messages"])


# ---- reliability under faults ----------------------------------------------------------------


@pytest.fixture
async def private_services() -> AsyncIterator[PrivateServices]:
    """A PostgreSQL cluster and a RabbitMQ node of the test's own (``bench.private_services``),
    which it may stop and start without disturbing anything else; removed after."""
    async with open_private_services() as services:
        yield services
