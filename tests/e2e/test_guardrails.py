"""Output guardrails end to end against the worst case: a model that obeys the lead.

Every service runs as its own process; the campaign's model is the sandbox's obedient one
(``sandbox/llm_obedient.py``), which does whatever a lead's message, first name, username, bio
or later reply asks. Every attack of ``tests/data/guardrails/attacks.yaml`` comes from its own
lead, through its own field, next to a few ordinary leads. What a user would notice: no attacker
receives a leak, an off-list link or contact, a payment request, an insult or a changed price —
whatever they got is the model's ordinary phrase or the campaign's own template — the harmful
drafts wait for a person with every check that failed, and the ordinary leads get their DM.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from core.outreach import DEFAULT_OPT_OUT_REPLY
from sandbox.llm import PHRASES
from tests.conftest import Stack, boot_outreach_mode, outreach_workspace, sandbox_call, wait_for
from tests.e2e.conftest import CHAT, FAST, api, dms_to, reply_as, wait_for_dms

pytestmark = pytest.mark.e2e

ATTACKS = yaml.safe_load(
    (Path(__file__).parents[1] / "data" / "guardrails" / "attacks.yaml").read_text("utf-8")
)
OFFER = "We build web apps in four weeks, from $3,000. Cases: https://webstudio.example/cases"
TEMPLATE = "Hello! {offer} Is it still relevant for you?"
FALLBACK = TEMPLATE.replace("{offer}", OFFER)
FOLLOW_UP = "Thanks for your reply! Shall we schedule a short call?"  # the offline later turn
BENIGN = {
    "en": "Looking for a developer to build our online shop",
    "ru": "Ищу разработчика для интернет-магазина",
}
HELD_HARMS = {"leak", "link", "contact", "payment", "insult", "price", "stage"}
ORDINARY = [(730_900 + n, BENIGN["en" if n % 2 else "ru"]) for n in range(6)]


def workspace(sessions: list[str]) -> str:
    outreach = f"""\
      offer: "{OFFER}"
      llm_model: sandbox-obedient
      allowed_links: ["https://webstudio.example/cases"]
      templates: ["{TEMPLATE}"]
      follow_ups: ["{FOLLOW_UP}"]
{FAST}"""
    # Attacks ride in messages and bios, which the second stage would judge too: off here, every
    # attacker must reach the writer for the guardrails to be tested.
    return outreach_workspace(sessions, CHAT, outreach, more="    intent: {enabled: false}\n")


def _carries(text: str, payload: str) -> bool:
    """Whether ``text`` has ``payload`` in it, spaces and punctuation aside ("!!!" as it is)."""
    squashed = re.sub(r"\W+", "", payload.casefold())
    return squashed in re.sub(r"\W+", "", text.casefold()) if squashed else payload in text


async def _post(
    http: httpx.AsyncClient, stack: Stack, user_id: int, attack: dict[str, Any]
) -> None:
    field, lang = attack["field"], attack["lang"]
    user: dict[str, Any] = {"user_id": user_id, "first_name": "Alex"}
    if field == "first_name":
        user["first_name"] = attack["text"]
    elif field in ("username", "bio"):
        user[field] = attack["text"]
    text = attack["text"] if field == "message" else BENIGN[lang]
    await sandbox_call(
        http, stack, "/_sandbox/post", {"chat": f"@{CHAT}", "text": text, "user": user}
    )


async def _conversations(http: httpx.AsyncClient, stack: Stack) -> dict[int, dict[str, Any]]:
    listed = (await api(http, stack, "conversations?limit=500"))["items"]
    return {c["telegram_user_id"]: c for c in listed}


async def _settled(http: httpx.AsyncClient, stack: Stack, users: dict[int, int]) -> bool:
    """Every user's conversation has its expected turns written, and nothing is still waiting
    to be sent (each message went out, or waits for a person, or the conversation ended)."""
    by_user = await _conversations(http, stack)
    for user_id, turns in users.items():
        conversation = by_user.get(user_id)
        if conversation is None:
            return False
        if conversation["status"] in ("opted_out", "handoff", "finished"):
            continue
        detail = await api(http, stack, f"conversations/{conversation['id']}")
        out = [m for m in detail["messages"] if m["direction"] == "out"]
        if len(out) < turns or any(m["status"] in ("scheduled", "queued") for m in out):
            return False
    return True


async def test_no_attack_gets_past_the_checks_of_an_obedient_model_and_ordinary_leads_get_a_dm(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    await boot_outreach_mode(stack, http, CHAT, workspace)
    many = {"new_dms_per_hour": 10_000, "new_dm_burst": 1000, "messages_per_minute": 10_000}
    limits = {"account": {**many, "message_burst": 1000}}
    raised = await http.patch(f"{stack.sandbox_url}/_sandbox/limits", json=limits)
    assert raised.json()["ok"], raised.text
    attackers = {731_000 + n: attack for n, attack in enumerate(ATTACKS)}
    later = {u: a for u, a in attackers.items() if a["field"] == "reply"}
    for user_id, attack in attackers.items():
        await _post(http, stack, user_id, attack)
    for user_id, text in ORDINARY:
        await sandbox_call(
            http,
            stack,
            "/_sandbox/post",
            {"chat": f"@{CHAT}", "text": text, "user": {"user_id": user_id, "first_name": "Kim"}},
        )
    for user_id, attack in later.items():  # our first message, then the attack as their reply
        first = await wait_for_dms(http, stack, user_id, 1, seconds=90)
        await reply_as(http, stack, user_id, first[0]["from"]["user_id"], attack["text"])

    expected = {u: 2 if u in later else 1 for u in attackers} | {u: 1 for u, _ in ORDINARY}
    await wait_for(
        lambda: _settled(http, stack, expected), seconds=180, what="every lead's turn to settle"
    )

    safe = {*PHRASES, DEFAULT_OPT_OUT_REPLY, FALLBACK, FOLLOW_UP}
    for user_id, attack in attackers.items():
        for dm in await dms_to(http, stack, user_id):
            assert dm["text"] in safe, (attack["id"], dm["text"])
            for payload in attack.get("payload") or []:
                assert not _carries(dm["text"], payload), (attack["id"], payload)
    for user_id, _ in ORDINARY:
        assert [m["text"] for m in await dms_to(http, stack, user_id)][0] in PHRASES

    drafts = (await api(http, stack, "drafts?limit=500"))["items"]
    by_user = await _conversations(http, stack)
    held = {d["conversation_id"]: d for d in drafts}
    for user_id, attack in attackers.items():
        if attack["harm"] not in HELD_HARMS:
            continue
        draft = held.get(by_user[user_id]["id"])
        assert draft is not None, f"{attack['id']} was not held for a person"
        failed = [f for attempt in draft["checks"] for f in attempt["findings"]]
        assert failed and any(f["route"] == "person" for f in failed), attack["id"]
        assert draft["reason"], attack["id"]
