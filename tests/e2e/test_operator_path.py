"""The operator path over the real stack (admin, manager, workers, sandbox on PostgreSQL and
RabbitMQ): two operators press Approve on one draft at the same moment."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import Stack, boot_outreach_mode, wait_for
from tests.e2e.conftest import CHAT, api, dms_to, post_as, wait_for_dms, workspace


async def test_two_operators_approving_one_draft_send_one_dm_and_the_loser_hears_who_won(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    await boot_outreach_mode(stack, http, CHAT, workspace(approval=True))
    bob = {"Authorization": f"Bearer {await stack.add_user('bob', 'operator')}"}
    lead = 700_101
    await post_as(http, stack, lead, "Looking for a developer for a small SaaS")

    async def one_draft() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (await api(http, stack, "drafts"))["items"]
        return items or None

    drafts = await wait_for(one_draft, seconds=30, what="a draft waiting for approval")
    assert isinstance(drafts, list)
    url = f"{stack.api_url}/api/v1/drafts/{drafts[0]['id']}/approve"
    alice_edit = "Hi! We build SaaS products in four weeks. Want to see examples?"
    answers = await asyncio.gather(
        http.post(url, json={"text": alice_edit}),
        http.post(url, json={}, headers=bob),
    )

    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    won, lost = sorted(answers, key=lambda a: a.status_code)
    winner = won.json()["approved_by"]
    assert winner in ("alice", "bob")
    assert f"already approved by {winner} at 20" in lost.json()["detail"]
    [dm] = await wait_for_dms(http, stack, lead, 1)
    assert dm["text"] == (alice_edit if winner == "alice" else won.json()["text"])
    await asyncio.sleep(2)
    assert len(await dms_to(http, stack, lead)) == 1, "one DM, whoever won"
