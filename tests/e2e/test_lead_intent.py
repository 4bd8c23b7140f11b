"""Lead intent end to end: the sandbox audience's buyers, sellers and job seekers all say the demo
campaigns' keywords; parser, manager, admin and a worker per account run as separate processes
over PostgreSQL and RabbitMQ. Only buyers get a DM — one each; the others are kept as "maybe"
leads with the reason the second stage gave."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import httpx
import pytest

from tests.conftest import Stack, boot_outreach_mode, sandbox_call, wait_for
from tests.e2e.conftest import FAST, api, dms_to, wait_for_dms

pytestmark = pytest.mark.e2e

CHAT = "freelance_ru"
CROWD = {"buyer": 10, "seller": 5, "job_seeker": 5}
# Every message is a keyword hit, half of them buyers'; each member speaks two times on average
# (a role's members take turns, so everyone speaks).
AUDIENCE: dict[str, Any] = {
    "rate": 8,
    "count": 40,
    "seed": 5,
    "roles": CROWD,
    "lead_share": 0.5,
    "lookalike_share": 0.5,
    "excluded_share": 0,
}


def _workspace(sessions: list[str]) -> str:
    """The demo's two campaigns and keyword sets (coolthing/demo_workspace.yaml) on one chat,
    no approval, the stage at its defaults (general model, below the threshold: maybe)."""
    campaign = """\
  - name: {name}
    keyword_sets: [{keywords}]
    chats: ["@{chat}"]
    parser_accounts: [parser-1]
    manager_accounts: [manager-1, manager-2]
    outreach:
      offer: "{offer}"
{fast}"""
    campaigns = "\n".join(
        campaign.format(name=name, keywords=keywords, chat=CHAT, offer=offer, fast=FAST)
        for name, keywords, offer in (
            ("web-leads", "web-dev", "Делаем сайты под ключ за 2–4 недели."),
            ("design-leads", "design", "Рисуем логотипы и фирменный стиль за неделю."),
        )
    )
    return f"""\
accounts:
  - {{name: parser-1, role: parser, session: "{sessions[0]}"}}
  - {{name: manager-1, role: manager, session: "{sessions[1]}"}}
  - {{name: manager-2, role: manager, session: "{sessions[2]}"}}
keyword_sets:
  - name: web-dev
    keywords: [разработчик, программист, "сделать сайт", developer, "build a website"]
    exclude: [вакансия, резюме, hiring]
  - name: design
    keywords: [дизайнер, логотип, "фирменный стиль", designer, logo]
    exclude: [курс, course]
campaigns:
{campaigns}
"""


Leads = dict[int, list[dict[str, Any]]]


async def _leads_by_person(http: httpx.AsyncClient, stack: Stack) -> Leads:
    page = await api(http, stack, "leads?limit=500")
    found: Leads = defaultdict(list)
    for lead in page["items"]:
        found[lead["telegram_user_id"]].append(lead)
    return found


def _verdicts(leads: list[dict[str, Any]]) -> list[tuple[object, object, object]]:
    return [(x.get("intent"), x.get("intent_score"), x.get("intent_reason")) for x in leads]


def _said(posted: list[dict[str, Any]], user_id: int) -> list[str]:
    return [m["text"] for m in posted if m["sender"]["user_id"] == user_id]


async def test_in_a_run_of_the_audience_only_buyers_get_a_dm_one_each(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    await boot_outreach_mode(stack, http, CHAT, _workspace)

    await sandbox_call(http, stack, "/_sandbox/audience/start", {**AUDIENCE, "chats": [CHAT]})

    async def all_posted() -> bool:
        status = await sandbox_call(http, stack, "/_sandbox/audience")
        return int(status["posted"]) >= int(AUDIENCE["count"])

    await wait_for(all_posted, seconds=60, what="the audience to post")
    people = (await sandbox_call(http, stack, "/_sandbox/audience/people"))["people"]
    role = {int(p["user_id"]): str(p["role"]) for p in people}
    posted = (await sandbox_call(http, stack, f"/_sandbox/messages?chat={CHAT}&limit=1000"))[
        "messages"
    ]
    assert {m["sender"]["user_id"] for m in posted} == set(role), "every member spoke"
    buyers = sorted(u for u, r in role.items() if r == "buyer")
    others = sorted(u for u, r in role.items() if r != "buyer")
    assert len(buyers) == 10 and len(others) == 10

    for buyer in buyers:
        try:
            await wait_for_dms(http, stack, buyer, 1, seconds=60)
        except AssertionError:
            theirs = (await _leads_by_person(http, stack)).get(buyer, [])
            raise AssertionError(
                f"buyer {buyer} got no DM; said {_said(posted, buyer)}; leads {theirs}\n"
                f"{stack.log_tail()}"
            ) from None
    await asyncio.sleep(5)  # time for a DM that should not come

    dms = {user: len(await dms_to(http, stack, user)) for user in role}
    leads = await _leads_by_person(http, stack)
    wrongly_written = {
        f"{role[u]} {u}": (_said(posted, u), _verdicts(leads[u])) for u in others if dms[u]
    }
    assert not wrongly_written, f"sellers and job seekers get no DM: {wrongly_written}"
    assert {u: dms[u] for u in buyers} == dict.fromkeys(buyers, 1), "one DM per buyer"

    for user in others:
        assert leads[user], f"{role[user]} {user}'s keyword hit is kept as a lead"
        for lead in leads[user]:
            assert lead["intent"] == "maybe", (role[user], lead)
            assert lead["intent_reason"], (role[user], lead)
            assert 0 <= lead["intent_score"] < 1
    for user in buyers:
        assert any(lead["intent"] == "lead" for lead in leads[user]), leads[user]
