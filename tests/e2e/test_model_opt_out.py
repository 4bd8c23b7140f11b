"""An opt-out only the model notices, end to end: every service as its own process, the sandbox
playing Telegram and the LLM (whose model reads ``sandbox.llm.OPT_OUT_CUES`` as an opt-out and
still writes a sales reply, which must never reach the lead)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from core.outreach import DEFAULT_OPT_OUT_REPLY
from manager.optout import OptOutDetector
from tests.conftest import Stack, boot_outreach_mode, wait_for
from tests.e2e.conftest import (
    CHAT,
    api,
    dms_to,
    post_as,
    reply_as,
    wait_for_dms,
    workspace,
)

pytestmark = pytest.mark.e2e

ONLY_THE_MODEL_NOTICES = "Please lose my number, we found a team last week."


async def test_an_opt_out_only_the_model_notices_gets_one_confirmation_and_no_campaign_writes_again(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    assert not OptOutDetector().is_opt_out(ONLY_THE_MODEL_NOTICES), "the phrase list missed it"
    await boot_outreach_mode(stack, http, CHAT, workspace(second_campaign=True))
    lead = 720_001
    await post_as(http, stack, lead, "Ищу разработчика для интернет-магазина")  # "web" only
    first = await wait_for_dms(http, stack, lead, 1)
    sender = first[0]["from"]["user_id"]

    await reply_as(http, stack, lead, sender, ONLY_THE_MODEL_NOTICES)
    received = await wait_for_dms(http, stack, lead, 2)
    assert received[1]["text"] == DEFAULT_OPT_OUT_REPLY
    assert received[1]["from"]["user_id"] == sender

    await reply_as(http, stack, lead, sender, f"Again: {ONLY_THE_MODEL_NOTICES}")
    await post_as(http, stack, lead, "Нужен новый сайт для кафе")  # a hit for "sites" only
    other_lead = 720_002
    await post_as(http, stack, other_lead, "Нужен новый сайт для кафе")

    async def sites_skipped_the_lead() -> bool:
        listed = (await api(http, stack, "conversations?limit=500"))["items"]
        mine = {c["status"] for c in listed if c["telegram_user_id"] == lead}
        return mine == {"opted_out", "skipped"}

    await wait_for(sites_skipped_the_lead, seconds=30, what="the second campaign to skip the lead")
    await wait_for_dms(http, stack, other_lead, 1)  # the "sites" campaign does write...
    await asyncio.sleep(3)  # ...and the one who left hears nothing more, given time to go wrong
    texts = [m["text"] for m in await dms_to(http, stack, lead)]
    assert texts[1:] == [DEFAULT_OPT_OUT_REPLY], texts
