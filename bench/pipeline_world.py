"""The parser-mode world a pipeline run posts into: the sandbox's test endpoints, the demo's chats
and keyword sets for two parser accounts, and the oracle that says which messages are leads."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.pipeline_stack import wait_for
from parser.matcher import KeywordSetRules, Matcher

ACCOUNTS = 2
SEED = 7
PAGE = 10_000  # the sandbox's largest /_sandbox/messages page


# ---- the sandbox ---------------------------------------------------------------------------------


class Sandbox:
    """The sandbox's test endpoints over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.AsyncClient(base_url=url, timeout=10)

    async def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = await self.http.request(method, path, json=body)
        payload: dict[str, Any] = response.json()
        if not payload.get("ok"):
            raise RuntimeError(f"sandbox refused {method} {path}: {payload}")
        return payload

    async def chats(self) -> list[dict[str, Any]]:
        chats: list[dict[str, Any]] = (await self.call("GET", "/_sandbox/chats"))["chats"]
        return chats

    async def ends(self, chat_ids: list[int]) -> dict[int, int]:
        """The last message id of each chat: what a run posts comes after it."""
        path = "/_sandbox/messages?chat={}&since=1000000000&limit=1"
        return {c: (await self.call("GET", path.format(c)))["last_message_id"] for c in chat_ids}

    async def messages(self, chat_id: int, since: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            path = f"/_sandbox/messages?chat={chat_id}&since={since}&limit={PAGE}"
            page = (await self.call("GET", path))["messages"]
            if not page:
                return found
            found += page
            since = page[-1]["message_id"]  # message ids are history positions + 1

    async def post_audience(self, rate: float, count: int, chat_ids: list[int]) -> None:
        body = {"rate": rate, "count": count, "seed": SEED, "chats": chat_ids}
        await self.call("POST", "/_sandbox/audience/start", body)

        async def done() -> bool:
            status = await self.call("GET", "/_sandbox/audience")
            return not status["running"] and status["posted"] >= count

        await wait_for(done, "the audience to post", count / rate * 3 + 10)


# ---- the workspace -------------------------------------------------------------------------------


def demo_workspace(chat_count: int, sessions: list[str]) -> dict[str, Any]:
    """The demo's keyword sets and campaigns over its first ``chat_count`` chats, parsers only."""
    source = resources.files("coolthing").joinpath("demo_workspace.yaml").read_text("utf-8")
    demo = yaml.safe_load(source)
    chats = demo["chats"][:chat_count]
    in_use = {c["ref"] for c in chats}
    accounts = [
        {"name": f"parser-{i}", "role": "parser", "session": s}
        for i, s in enumerate(sessions, start=1)
    ]
    campaigns = [
        {
            "name": c["name"],
            "keyword_sets": c["keyword_sets"],
            "chats": [r for r in c["chats"] if r in in_use],
            "parser_accounts": [a["name"] for a in accounts],
        }
        for c in demo["campaigns"]
        if in_use.intersection(c["chats"])
    ]
    return {
        "accounts": accounts,
        "chats": chats,
        "keyword_sets": demo["keyword_sets"],
        "campaigns": campaigns,
    }


def oracle(workspace: dict[str, Any], chat_ids: dict[str, int]) -> Matcher:
    """The expected hits: every campaign's keyword sets scoped to its chats' sandbox ids."""
    sets = {s["name"]: s for s in workspace["keyword_sets"]}
    rules = [
        KeywordSetRules(
            set_id=len(sets) * number + i,
            name=name,
            keywords=sets[name]["keywords"],
            exclude=sets[name]["exclude"],
            campaign_id=number,
            chat_ids=frozenset(chat_ids[ref] for ref in campaign["chats"]),
        )
        for number, campaign in enumerate(workspace["campaigns"], start=1)
        for i, name in enumerate(campaign["keyword_sets"])
    ]
    return Matcher.compile(rules)


@dataclass
class Setup:
    sandbox: Sandbox
    workspace: dict[str, Any]
    workspace_file: Path
    chat_ids: dict[str, int]  # "@ref" → sandbox chat id
    sessions: dict[int, str]  # sandbox user id → session
    oracle: Matcher
    assignment: str = ""  # which account listens where, as the parser assigned it


async def create_world(sandbox: Sandbox, chat_count: int, logs: Path) -> Setup:
    demo = demo_workspace(chat_count, [])
    chat_ids = {}
    for chat in demo["chats"]:
        body = {"ref": chat["ref"].lstrip("@"), "title": chat["title"]}
        chat_ids[chat["ref"]] = (await sandbox.call("POST", "/_sandbox/chats", body))["chat"][
            "chat_id"
        ]
    sessions = {}
    for i in range(1, ACCOUNTS + 1):
        made = await sandbox.call("POST", "/_sandbox/accounts", {"first_name": f"Parser{i}"})
        sessions[made["user_id"]] = made["session"]
    # Joins are the only limited call here; keep them out of the way however often we run.
    limits = {"account": {"joins_per_hour": 100_000, "join_burst": 1_000}}
    await sandbox.call("PATCH", "/_sandbox/limits", limits)
    workspace = demo_workspace(chat_count, list(sessions.values()))
    path = logs / "workspace.yaml"
    path.write_text(json.dumps(workspace, ensure_ascii=False, indent=1), encoding="utf-8")
    return Setup(sandbox, workspace, path, chat_ids, sessions, oracle(workspace, chat_ids))


def describe_assignment(chats: list[dict[str, Any]], users: list[int]) -> str:
    """'account 1: 3 of 4 chats, …': the audience spreads its messages evenly over the chats."""
    counts = Counter(m for c in chats for m in c["members"])
    parts = [f"account {n}: {counts[u]} of {len(chats)} chats" for n, u in enumerate(users, 1)]
    return ", ".join(parts)
