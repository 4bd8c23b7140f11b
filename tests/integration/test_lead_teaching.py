"""Operators teach a campaign's second stage through the API: the parser (its real bootstrap, on
PostgreSQL and RabbitMQ) keeps each mark as an example, retrains the campaign's model in the
background and uses it only when it scores at least as well; "is a lead" on a maybe lead has
the manager write to them, once."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.access import Role
from core.bus.factory import make_bus
from core.db import Database
from core.db.intent_models import CampaignIntentModel, IntentExample
from core.db.models import AuditEntry, Conversation, ConversationMessage, Lead
from core.events import Event, MessageIncoming, Profile
from core.outbox import OutboxRelay
from core.platform import Platform
from core.security import SecretBox
from core.settings import Settings
from core.topology import SERVICE_QUEUES
from manager.bootstrap import RunningManager, start_manager
from parser.bootstrap import RunningParser, start_parser
from tests.conftest import add_people, admin_app, bearer, delete_exchange, delete_queues, eventually
from tests.integration.conftest import apply_workspace_text, workspace
from tests.intent_teaching import CO_FOUNDERS, ELEVENTH, POISON

pytestmark = pytest.mark.parametrize("database", ["postgresql"], indirect=True)

# Long enough that a test's marks all land before the campaign retrains, short for a test.
QUIET = 2.0
RETRAINED = "intent model retrained"
SELLER = "Я разработчик, делаю сайты под ключ, пишите в личку"


@dataclass
class Product:
    platform: Platform
    parser: RunningParser
    manager: RunningManager
    transport: httpx.ASGITransport
    tokens: dict[Role, str]
    next_message: int = 0

    def api(self, role: Role) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self.transport,
            base_url="http://127.0.0.1/api/v1",
            headers=bearer(self.tokens[role]),
        )

    async def say(self, user: int, text: str) -> Lead:
        """``user`` writes ``text`` in the campaign's chat; their lead once the parser made it
        (the same message again from another user is another lead)."""
        self.next_message += 1
        message = MessageIncoming(
            account_id=1,
            chat_id=-100,
            chat_ref="@jobs",
            message_id=self.next_message,
            text=text,
            date=datetime.now(UTC),
            sender=Profile(user_id=user, first_name="Анна", username=f"user{user}"),
        )
        await self.platform.bus.publish(Event.of(message))

        async def lead() -> Lead | None:
            async with self.platform.db.session() as session:
                return await session.scalar(
                    select(Lead).where(Lead.campaign_id == 1, Lead.telegram_user_id == user)
                )

        return await eventually(lead, what=f"user {user}'s lead")

    async def mark(self, lead_id: int, mark: str, role: Role = Role.operator) -> httpx.Response:
        async with self.api(role) as http:
            return await http.post(f"/leads/{lead_id}/mark", json={"mark": mark})

    async def get(self, path: str, role: Role = Role.viewer) -> Any:
        async with self.api(role) as http:
            response = await http.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    async def lead(self, lead_id: int) -> Lead:
        async with self.platform.db.session() as session:
            found = await session.get(Lead, lead_id)
        assert found is not None
        return found


@pytest.fixture
async def product(
    database: Database, secret_box: SecretBox, tmp_path: Path, amqp_url: str
) -> AsyncIterator[Product]:
    await apply_workspace_text(database, secret_box, tmp_path, workspace())
    tokens = await add_people(database)
    queues = [*SERVICE_QUEUES, *(f"bots.account.{n}" for n in range(1, 4))]
    await delete_queues(amqp_url, queues)
    exchange = f"teaching-{uuid.uuid4().hex[:12]}"
    bus = make_bus(amqp_url, exchange=exchange)
    await bus.start()
    settings = Settings(intent_retrain_delay=QUIET, manager_pacing=False)
    platform = Platform(settings, database, bus, secret_box, OutboxRelay(database, bus))
    relay = asyncio.create_task(platform.relay.run())
    parser = await start_parser(platform)
    manager = await start_manager(platform)
    app = admin_app(database, bus)
    app.exception_handlers.pop(Exception)  # a 500 fails the test loudly
    yield Product(platform, parser, manager, httpx.ASGITransport(app=app), tokens)
    await manager.stop()
    await parser.stop()
    relay.cancel()
    await asyncio.gather(relay, return_exceptions=True)
    await bus.close()
    await delete_queues(amqp_url, queues)
    await delete_exchange(amqp_url, exchange)


async def _retrained(caplog: pytest.LogCaptureFixture) -> None:
    """Until the parser trained once (and, when the model was used, reloaded)."""

    async def logged() -> bool:
        return any(r.getMessage().startswith(RETRAINED) for r in caplog.records)

    await eventually(logged, seconds=90, what="the campaign's model to be retrained")


async def test_ten_not_a_lead_marks_change_the_verdict_on_an_eleventh_message_like_them(
    product: Product, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="parser.intent_retrainer")
    leads = [await product.say(100 + n, text) for n, text in enumerate(CO_FOUNDERS)]
    before = await product.say(200, ELEVENTH)
    assert before.intent == "lead", "the shipped model takes it for a buyer"

    for lead in leads:
        response = await product.mark(lead.id, "not_lead")
        assert response.status_code == 200, response.text
        assert response.json() == {"lead_id": lead.id, "intent": "not_lead", "written_to": False}
    await _retrained(caplog)

    after = await product.say(201, ELEVENTH)
    assert after.intent != "lead", after.intent_reason
    assert (after.intent_score or 1.0) < (before.intent_score or 0.0)

    models = await product.get("/campaigns/1/intent-models")
    [model] = models["items"]
    assert model["in_use"] is True
    assert model["examples"] == 8  # every 4th mark was held back to judge it
    assert model["note"].startswith("in use: ")
    assert "operators' 2/2 against 0/2 right" in model["note"], "held-back marks now called right"
    examples = await product.get("/campaigns/1/intent-examples?limit=5")
    assert examples["total"] == 10 and len(examples["items"]) == 5
    assert {(e["label"], e["actor"]) for e in examples["items"]} == {(False, "operator")}
    assert {e["text"] for e in examples["items"]} <= set(CO_FOUNDERS)


async def test_a_retrained_model_that_scores_worse_is_not_used(
    product: Product, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="parser.intent_retrainer")
    probes = [CO_FOUNDERS[0], SELLER, "Нужен разработчик для интернет-магазина одежды, бюджет 90к"]
    before = [await product.say(300 + n, text) for n, text in enumerate(probes)]
    marked = [(await product.say(400 + n, text), lead) for n, (text, lead) in enumerate(POISON)]
    for lead, is_lead in marked:
        response = await product.mark(lead.id, "lead" if is_lead else "not_lead")
        assert response.status_code == 200, response.text
    await _retrained(caplog)

    async with product.platform.db.session() as session:
        [row] = await session.scalars(select(CampaignIntentModel))
    assert row.in_use is False
    assert row.f1 < row.previous_f1
    assert row.note.startswith("not used")
    after = [await product.say(500 + n, text) for n, text in enumerate(probes)]
    assert [(a.intent, a.intent_score) for a in after] == [
        (b.intent, b.intent_score) for b in before
    ]


async def test_is_a_lead_on_a_maybe_lead_has_the_manager_write_to_them_once(
    product: Product,
) -> None:
    lead = await product.say(600, SELLER)
    assert lead.intent == "maybe", "the shipped model takes a seller for no buyer"

    response = await product.mark(lead.id, "lead")
    assert response.json() == {"lead_id": lead.id, "intent": "lead", "written_to": True}

    async def outbound() -> list[ConversationMessage]:
        async with product.platform.db.session() as session:
            ids = select(Conversation.id).where(Conversation.lead_id == lead.id)
            query = select(ConversationMessage).where(
                ConversationMessage.conversation_id.in_(ids),
                ConversationMessage.direction == "out",
            )
            return list(await session.scalars(query))

    await eventually(outbound, what="the manager to write to the lead")
    # Changing one's mind sends the lead on again: the manager still writes once.
    assert (await product.mark(lead.id, "not_lead")).json()["written_to"] is False
    assert (await product.mark(lead.id, "lead")).json()["written_to"] is True
    await product.platform.relay.drain()
    await asyncio.sleep(1.0)  # the manager's turn with the second lead.found
    assert len(await outbound()) == 1
    async with product.platform.db.session() as session:
        conversations = await session.scalar(
            select(func.count()).where(Conversation.lead_id == lead.id)
        )
        audit = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "lead_marked").order_by(AuditEntry.id)
            )
        )
        example = await session.scalar(select(IntentExample))
    assert conversations == 1
    assert [(a.actor, a.lead_id, a.detail["mark"]) for a in audit] == [
        ("operator", lead.id, "lead"),
        ("operator", lead.id, "not_lead"),
        ("operator", lead.id, "lead"),
    ]
    assert example is not None and example.label is True  # one example, the newest mark


async def test_a_viewer_cannot_mark_a_lead_and_bad_marks_say_why(product: Product) -> None:
    lead = await product.say(700, SELLER)
    refused = await product.mark(lead.id, "lead", role=Role.viewer)
    assert refused.status_code == 403
    assert (await product.lead(lead.id)).intent == "maybe"
    assert (await product.get("/campaigns/1/intent-examples"))["total"] == 0

    missing = await product.mark(999_999, "lead")
    assert missing.status_code == 404 and "999999" in missing.json()["detail"]
    wrong = await product.mark(lead.id, "spam")
    assert wrong.status_code == 422
    assert [e["field"] for e in wrong.json()["detail"]] == ["mark"]
    async with product.api(Role.viewer) as http:
        assert (await http.get("/campaigns/99/intent-models")).status_code == 404
