"""The second stage in the whole product: sandbox Telegram, account workers, the parser and the
manager as their bootstraps start them, on PostgreSQL and RabbitMQ. People write in a chat; a
seller's message becomes a "maybe" lead nobody writes to (its score and reason in the API), a
buyer gets a DM, and a campaign that drops what is below its threshold keeps nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from prometheus_client import REGISTRY

from bots.bootstrap import build_worker
from core.access import Role
from core.bus.factory import make_bus
from core.db import Database
from core.outbox import OutboxRelay
from core.platform import Platform
from core.security import SecretBox
from core.settings import Settings
from core.topology import SERVICE_QUEUES
from manager.bootstrap import start_manager
from parser.bootstrap import start_parser
from sandbox.bootstrap import RunningSandbox
from tests.conftest import add_people, admin_app, bearer, delete_exchange, delete_queues, eventually
from tests.integration.conftest import apply_workspace_text, sandbox_api

pytestmark = pytest.mark.parametrize("database", ["postgresql"], indirect=True)

CHAT = "jobs"
BUYER = "Нужен разработчик для интернет-магазина, кто возьмётся? Бюджет есть"
SELLER = "Я разработчик, делаю сайты под ключ, пишите в личку"
DESIGN_SELLER = "Я дизайнер, рисую логотипы, портфолио в профиле"
DESIGN_BUYER = "Ищем дизайнера на логотип для кофейни, бюджет 20к, кто свободен?"


def _workspace(sessions: list[str]) -> str:
    fast = (
        "{quiet_hours: null, min_gap_seconds: 0, max_gap_seconds: 0, warmup_days: 0, "
        "new_dms_per_day: 1000, messages_per_minute: 1000, offer: 'Сайты за месяц.'}"
    )
    return f"""\
accounts:
  - {{name: parser-1, role: parser, session: "{sessions[0]}"}}
  - {{name: manager-1, role: manager, session: "{sessions[1]}"}}
keyword_sets:
  - {{name: web-dev, keywords: [разработчик]}}
  - {{name: design, keywords: [дизайнер]}}
campaigns:
  - {{name: web, keyword_sets: [web-dev], chats: ["@{CHAT}"], parser_accounts: [parser-1],
      manager_accounts: [manager-1], outreach: {fast}}}
  - {{name: logos, keyword_sets: [design], chats: ["@{CHAT}"], parser_accounts: [parser-1],
      manager_accounts: [manager-1], outreach: {fast}, intent: {{below: drop}}}}
"""


@dataclass
class Product:
    sandbox: RunningSandbox
    transport: httpx.ASGITransport
    token: str

    async def post(self, user_id: int, text: str) -> None:
        body = {"chat": f"@{CHAT}", "text": text, "user": {"user_id": user_id, "first_name": "Ян"}}
        await sandbox_api(self.sandbox, "/_sandbox/post", body)

    async def dms_to(self, user_id: int) -> list[dict[str, Any]]:
        listed = await sandbox_api(self.sandbox, f"/_sandbox/dms?user={user_id}")
        return [m for m in listed["messages"] if m["to"]["user_id"] == user_id]

    async def leads(self, **query: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(
            transport=self.transport, base_url="http://127.0.0.1/api/v1", headers=bearer(self.token)
        ) as http:
            response = await http.get("/leads", params=query)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def lead_of(self, user_id: int) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            return next((x for x in await self.leads() if x["telegram_user_id"] == user_id), None)

        lead: dict[str, Any] = await eventually(found, what=f"user {user_id}'s lead")
        return lead


@pytest.fixture
async def product(
    database: Database,
    secret_box: SecretBox,
    sandbox: RunningSandbox,
    tmp_path: Path,
    amqp_url: str,
) -> AsyncIterator[Product]:
    sessions = []
    for name in ("Parser", "Manager"):
        created = await sandbox_api(sandbox, "/_sandbox/accounts", {"first_name": name})
        sessions.append(str(created["session"]))
    await sandbox_api(sandbox, "/_sandbox/chats", {"ref": CHAT, "title": "Jobs"})
    await apply_workspace_text(database, secret_box, tmp_path, _workspace(sessions))
    tokens = await add_people(database)
    queues = [*SERVICE_QUEUES, *(f"bots.account.{n}" for n in (1, 2))]
    await delete_queues(amqp_url, queues)
    exchange = f"intent-{uuid.uuid4().hex[:12]}"
    bus = make_bus(amqp_url, exchange=exchange)
    await bus.start()
    settings = Settings(sandbox_url=sandbox.url, manager_pacing=False)
    platform = Platform(settings, database, bus, secret_box, OutboxRelay(database, bus))
    tasks = [asyncio.create_task(platform.relay.run())]
    parser = await start_parser(platform)
    manager = await start_manager(platform)
    for account_id in (1, 2):
        worker = build_worker(platform, account_id, join_interval=0.05)
        tasks.append(asyncio.create_task(worker.run()))

    async def joined() -> bool:
        async with aiohttp.ClientSession() as http, http.get(sandbox.url + "/_sandbox/chats") as r:
            chats = (await r.json())["chats"]
        return any(c["members"] for c in chats if c["ref"] == CHAT)

    await eventually(joined, what="the parser account to join the chat")
    yield Product(sandbox, httpx.ASGITransport(app=admin_app(database, bus)), tokens[Role.viewer])
    await manager.stop()
    await parser.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await bus.close()
    await delete_queues(amqp_url, queues)
    await delete_exchange(amqp_url, exchange)


async def test_a_seller_is_a_maybe_nobody_writes_to_and_a_buyer_gets_a_dm(
    product: Product,
) -> None:
    await product.post(5001, SELLER)
    seller = await product.lead_of(5001)
    assert seller["intent"] == "maybe"
    assert seller["intent_score"] < 0.35 and "«" in seller["intent_reason"]
    assert [x["telegram_user_id"] for x in await product.leads(intent="maybe")] == [5001]

    await product.post(5002, BUYER)
    buyer = await product.lead_of(5002)
    assert buyer["intent"] == "lead" and buyer["intent_score"] >= 0.35

    async def dm() -> list[dict[str, Any]] | None:
        return await product.dms_to(5002) or None

    [first] = await eventually(dm, seconds=30, what="the buyer's first DM")
    assert first["text"]
    assert await product.dms_to(5001) == []  # its lead.found came first and was only acked


async def test_a_campaign_that_drops_below_its_threshold_keeps_no_lead(
    product: Product,
) -> None:
    dropped = _dropped()
    await product.post(5003, DESIGN_SELLER)
    await product.post(5004, DESIGN_BUYER)
    buyer = await product.lead_of(5004)
    assert buyer["intent"] == "lead"

    async def seller_dropped() -> bool:
        return _dropped() == dropped + 1

    await eventually(seller_dropped, what="the seller's hit to be dropped")
    assert [x["telegram_user_id"] for x in await product.leads()] == [5004]


def _dropped() -> float:
    return REGISTRY.get_sample_value("coolthing_parser_intent_total", {"outcome": "drop"}) or 0.0
