"""Outreach end to end: separate parser, manager, admin and worker processes on PostgreSQL and
RabbitMQ; the sandbox plays Telegram and the LLM (the real `openai` client talks to it).

What a user of the tool would check by hand: how many DMs each person got, and when."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.conftest import Stack, boot_outreach_mode, sandbox_call, wait_for
from tests.e2e.conftest import CHAT, api, dms_to, post_as, reply_as, wait_for_dms, workspace

pytestmark = pytest.mark.e2e


async def conversation_of(http: httpx.AsyncClient, stack: Stack, user_id: int) -> dict[str, Any]:
    listed = await api(http, stack, "conversations?limit=500")
    mine = [c for c in listed["items"] if c["telegram_user_id"] == user_id]
    assert mine, f"no conversation with user {user_id}"
    detail: dict[str, Any] = await api(http, stack, f"conversations/{mine[0]['id']}")
    return detail


async def test_a_lead_gets_one_dm_and_each_reply_gets_the_next_turn(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    accounts = await boot_outreach_mode(stack, http, CHAT, workspace())
    lead = 700_001
    await post_as(http, stack, lead, "Ищу разработчика для интернет-магазина")
    first = await wait_for_dms(http, stack, lead, 1)
    sender = first[0]["from"]["user_id"]
    assert sender in accounts[1:]

    await post_as(http, stack, lead, "Всё ещё нужен разработчик, пишите")
    await asyncio.sleep(3)
    assert len(await dms_to(http, stack, lead)) == 1, "one unsolicited message per lead"

    await reply_as(http, stack, lead, sender, "Сколько это будет стоить?")
    second = await wait_for_dms(http, stack, lead, 2)
    assert second[1]["from"]["user_id"] == sender
    assert second[1]["text"] != second[0]["text"]

    conversation = await conversation_of(http, stack, lead)
    assert conversation["status"] == "active"
    assert [m["direction"] for m in conversation["messages"]] == ["out", "in", "out"]
    out = [m for m in conversation["messages"] if m["direction"] == "out"]
    assert all(m["status"] == "sent" and m["writer"].startswith("llm:") for m in out)
    assert all(m["template_version"] and m["prompt_tokens"] > 0 for m in out)
    assert [m["stage"] for m in out] == ["introduction", "qualification"]
    assert conversation["stage"] == "qualification"

    # What passed through the services never lands in their logs (ids only): not the lead's
    # posts, not their reply, not the DMs, not their name. The sandbox plays Telegram: not ours.
    said = [
        "Ищу разработчика для интернет-магазина",
        "Всё ещё нужен разработчик",
        "Сколько это будет стоить?",
        *(dm["text"][:40] for dm in second),
    ]
    logs = stack.service_logs(exclude=("sandbox",))
    assert "parser.log" in logs and "manager.log" in logs and "admin.log" in logs
    leaked = [(text, name) for text in said for name, log in logs.items() if text in log]
    assert leaked == []


async def test_opt_out_is_confirmed_once_then_no_campaign_writes_again(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    accounts = await boot_outreach_mode(stack, http, CHAT, workspace(second_campaign=True))
    lead = 700_002
    await post_as(http, stack, lead, "Нужен разработчик и новый сайт для кафе")
    first = await wait_for_dms(http, stack, lead, 1)
    await asyncio.sleep(2)
    assert len(await dms_to(http, stack, lead)) == 1, "one first message across campaigns"

    await reply_as(http, stack, lead, first[0]["from"]["user_id"], "Отписаться!")
    confirmation = await wait_for_dms(http, stack, lead, 2)
    assert "больше не напишу" in confirmation[1]["text"]

    await reply_as(http, stack, lead, first[0]["from"]["user_id"], "а вообще сколько стоит?")
    await post_as(http, stack, lead, "Ищу developer на проект, срочно")
    other_lead = 700_003
    await post_as(http, stack, other_lead, "Ищу developer на проект")
    await wait_for_dms(http, stack, other_lead, 1)  # the pipeline is alive...
    await asyncio.sleep(3)
    assert len(await dms_to(http, stack, lead)) == 2  # ...and still silent to the one who left
    statuses = {
        c["campaign_id"]: c["status"]
        for c in (await api(http, stack, "conversations?limit=500"))["items"]
        if c["telegram_user_id"] == lead
    }
    assert set(statuses.values()) <= {"opted_out", "skipped"}
    assert "opted_out" in statuses.values()
    assert accounts  # booted


async def test_approval_holds_drafts_until_approved_and_rejected_ones_never_go(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    await boot_outreach_mode(stack, http, CHAT, workspace(approval=True))
    approved_lead, rejected_lead = 700_004, 700_005
    await post_as(http, stack, approved_lead, "Looking for a developer for a small SaaS")
    await post_as(
        http,
        stack,
        rejected_lead,
        "Any developer free next month? Need a landing page for my studio",
    )

    async def two_drafts() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (await api(http, stack, "drafts"))["items"]
        return items if len(items) == 2 else None

    drafts = await wait_for(two_drafts, seconds=30, what="two drafts waiting for approval")
    assert isinstance(drafts, list)
    await asyncio.sleep(2)
    assert await dms_to(http, stack, approved_lead) == []

    by_user = {}
    for draft in drafts:
        conversation = await api(http, stack, f"conversations/{draft['conversation_id']}")
        by_user[conversation["telegram_user_id"]] = draft["id"]
    edited = "Hi! We build SaaS products in four weeks. Want to see examples?"
    response = await http.post(
        f"{stack.api_url}/api/v1/drafts/{by_user[approved_lead]}/approve",
        json={"text": edited},
    )
    assert response.status_code == 200, response.text
    response = await http.post(
        f"{stack.api_url}/api/v1/drafts/{by_user[rejected_lead]}/reject",
        json={"reason": "not our client"},
    )
    assert response.status_code == 204, response.text

    received = await wait_for_dms(http, stack, approved_lead, 1)
    assert received[0]["text"] == edited
    await asyncio.sleep(2)
    assert await dms_to(http, stack, rejected_lead) == []
    again = await http.post(
        f"{stack.api_url}/api/v1/drafts/{by_user[rejected_lead]}/approve", json={}
    )
    assert again.status_code == 409, "a rejected draft cannot be approved later"
    assert "already rejected by alice at" in again.json()["detail"]
    conversation = await conversation_of(http, stack, approved_lead)
    assert conversation["messages"][0]["approved_by"] == "alice"


async def test_flood_wait_delays_the_send_by_its_seconds_and_sends_once(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    accounts = await boot_outreach_mode(stack, http, CHAT, workspace())
    for manager in accounts[1:]:
        fault = {"kind": "flood_wait", "account": manager, "seconds": 4, "operation": "send"}
        await sandbox_call(http, stack, "/_sandbox/faults", fault)
    lead = 700_006
    started = time.monotonic()
    await post_as(http, stack, lead, "Need a developer for a Telegram bot")
    await wait_for_dms(http, stack, lead, 1)
    assert time.monotonic() - started >= 4
    await asyncio.sleep(3)
    assert len(await dms_to(http, stack, lead)) == 1


async def test_peer_flood_moves_the_leads_to_the_other_account(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    accounts = await boot_outreach_mode(stack, http, CHAT, workspace())
    first_manager, second_manager = accounts[1], accounts[2]
    # Like Telegram, the limit holds for every send to a stranger, not just the first one.
    fault = {"kind": "peer_flood", "account": first_manager, "count": 100}
    await sandbox_call(http, stack, "/_sandbox/faults", fault)
    leads = [700_010 + n for n in range(4)]
    for lead in leads:
        await post_as(http, stack, lead, "Ищу разработчика на проект")
    for lead in leads:
        received = await wait_for_dms(http, stack, lead, 1, seconds=60)
        assert [m["from"]["user_id"] for m in received] == [second_manager]

    status = {a["name"]: a["status"] for a in await api(http, stack, "accounts")}
    # A PeerFlood limits writing to strangers for a while; it is not a ban.
    assert status == {"parser-1": "active", "manager-1": "active", "manager-2": "active"}
    await asyncio.sleep(2)
    for lead in leads:
        assert len(await dms_to(http, stack, lead)) == 1


async def test_a_lead_waits_for_a_manager_account_and_gets_one_dm_once_one_is_added(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    no_manager = workspace(second_campaign=True, sites_managers="[]")
    await boot_outreach_mode(stack, http, CHAT, no_manager)
    lead = 700_009
    await post_as(http, stack, lead, "Нужен новый сайт для кафе")  # only "sites" matches

    async def waiting() -> bool:
        listed = (await api(http, stack, "conversations?limit=500"))["items"]
        return any(c["telegram_user_id"] == lead and c["status"] == "waiting" for c in listed)

    await wait_for(waiting, seconds=30, what="the lead to wait for a manager account")
    assert await dms_to(http, stack, lead) == []

    path = stack.logs / "ws.yaml"  # the admin adds a manager account to the campaign
    text = path.read_text("utf-8").replace("manager_accounts: []", "manager_accounts: [manager-2]")
    path.write_text(text, "utf-8")
    applied = stack.command("workspace", "apply", str(path))
    assert applied.returncode == 0, applied.stderr.decode()

    await wait_for_dms(http, stack, lead, 1)
    await asyncio.sleep(2)
    assert len(await dms_to(http, stack, lead)) == 1


async def test_killing_manager_and_worker_mid_run_gives_every_lead_exactly_one_dm(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    await boot_outreach_mode(stack, http, CHAT, workspace())
    # 200 strangers in a minute from two accounts is far past Telegram's PeerFlood threshold (the
    # sandbox's too); this test is about crashes, so the sandbox's limits are lifted for it.
    unlimited = {
        "new_dms_per_hour": 1e6,
        "new_dm_burst": 1e4,
        "messages_per_minute": 1e6,
        "message_burst": 1e4,
    }
    response = await http.patch(f"{stack.sandbox_url}/_sandbox/limits", json={"account": unlimited})
    assert response.json()["ok"], response.text
    leads = [710_000 + n for n in range(200)]

    async def post_all(batch: list[int]) -> None:
        for lead in batch:
            await post_as(
                http, stack, lead, f"Ищу разработчика на проект номер {lead}, бюджет есть"
            )

    await post_all(leads[:100])
    await asyncio.sleep(1.0)
    stack.kill("manager")
    stack.kill("bots-2")
    await post_all(leads[100:])
    await asyncio.sleep(0.5)
    stack.start("manager", "manager")
    stack.start("bots-2", "bots", "--account", "2")
    await asyncio.sleep(1.5)
    stack.kill("bots-3")
    stack.start("bots-3", "bots", "--account", "3")

    async def everyone_got_one() -> bool:
        counts = [len(await dms_to(http, stack, lead)) for lead in leads]
        return all(c >= 1 for c in counts)

    await wait_for(everyone_got_one, seconds=120, what="a DM to each of the 200 leads", interval=1)
    await asyncio.sleep(3)
    counts = {lead: len(await dms_to(http, stack, lead)) for lead in leads}
    assert sorted(set(counts.values())) == [1], {k: v for k, v in counts.items() if v != 1}
