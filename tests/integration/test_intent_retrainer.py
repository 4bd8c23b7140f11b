"""The retrainer's bounds on both databases: a campaign that does not learn is not retrained, a
training past the time limit changes nothing, marks made while the parser was down are caught
up at its start, and a used model is the one the parser reloads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select, update

from core.access import Actor, Role
from core.bus.memory import InMemoryBus
from core.db import Database
from core.db.intent_models import CampaignIntentModel
from core.db.models import Campaign, Lead
from core.events import MessageIncoming, Profile
from core.lead_commands import LeadCommand
from core.outbox import OutboxRelay
from core.security import SecretBox
from parser.intent_retrainer import IntentRetrainer
from parser.lead_marks import LeadMarks
from parser.leads import record_hits
from parser.matcher import Hit
from tests.conftest import add_people, admin_app, bearer, eventually
from tests.integration.conftest import apply_workspace_text, workspace
from tests.intent_teaching import CO_FOUNDERS

OPERATOR = Actor(user_id=None, login="anna", role=Role.operator, channel="api")


async def _campaign_with_leads(db: Database, box: SecretBox, tmp_path: Path) -> list[int]:
    """The workspace's campaign "web" (id 1) with a lead per co-founder message."""
    await apply_workspace_text(db, box, tmp_path, workspace())
    ids = []
    for n, text in enumerate(CO_FOUNDERS):
        message = MessageIncoming(
            account_id=1,
            chat_id=-100,
            chat_ref="@jobs",
            message_id=n + 1,
            text=text,
            date=datetime.now(UTC),
            sender=Profile(user_id=100 + n, first_name="Анна", bio="Стартапер"),
        )
        async with db.transaction() as session:
            [found] = await record_hits(
                session, message, [Hit(1, "web-dev", 1, ("разработчик",))], correlation_id=None
            )
        ids.append(found.lead_id)
    return ids


def _retrainer(db: Database, reloads: list[int], *, timeout: float = 120) -> IntentRetrainer:
    async def reload() -> None:
        reloads.append(1)

    relay = OutboxRelay(db, InMemoryBus())
    return IntentRetrainer(db, relay, reload=reload, delay=0, timeout=timeout, max_examples=2000)


async def _mark_all(db: Database, leads: list[int], retrainer: IntentRetrainer | None) -> None:
    marks = LeadMarks(db, OutboxRelay(db, InMemoryBus()), retrainer.mark if retrainer else None)
    for lead_id in leads:
        command = LeadCommand(lead_id=lead_id, mark="not_lead", actor=OPERATOR)
        assert (await marks.handle(command)).outcome == "done"


async def _models(db: Database) -> list[CampaignIntentModel]:
    async with db.session() as session:
        return list(await session.scalars(select(CampaignIntentModel)))


async def test_a_used_model_is_stored_in_use_and_the_parser_reloads(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    leads = await _campaign_with_leads(database, secret_box, tmp_path)
    await _mark_all(database, leads, None)
    reloads: list[int] = []
    row = await _retrainer(database, reloads).retrain(1)
    assert row is not None and row.in_use
    assert reloads == [1]
    async with database.session() as session:
        assert await session.scalar(select(func.count()).where(Lead.intent == "not_lead")) == len(
            CO_FOUNDERS
        )


async def test_a_campaign_that_does_not_learn_is_not_retrained(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    leads = await _campaign_with_leads(database, secret_box, tmp_path)
    async with database.transaction() as session:
        await session.execute(
            update(Campaign).where(Campaign.id == 1).values(intent={"learn": False})
        )
    reloads: list[int] = []
    retrainer = _retrainer(database, reloads)
    await _mark_all(database, leads, retrainer)
    assert await retrainer.retrain(1) is None
    assert await _models(database) == [] and reloads == []


async def test_a_training_past_the_time_limit_changes_nothing(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    leads = await _campaign_with_leads(database, secret_box, tmp_path)
    await _mark_all(database, leads, None)
    reloads: list[int] = []
    retrainer = _retrainer(database, reloads, timeout=0.001)
    assert await retrainer.retrain(1) is None
    await retrainer.stop()
    assert await _models(database) == [] and reloads == []


async def test_marks_made_while_the_parser_was_down_are_retrained_at_its_start(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    leads = await _campaign_with_leads(database, secret_box, tmp_path)
    await _mark_all(database, leads, None)  # no retrainer running
    reloads: list[int] = []
    retrainer = _retrainer(database, reloads)
    await retrainer.start()
    try:
        [row] = await eventually(lambda: _models(database), seconds=60, what="a retraining")
        assert row.examples == 8
    finally:
        await retrainer.stop()
    assert await _retrainer(database, []).behind() == []  # trained since: nothing to catch up


async def test_marking_without_a_parser_is_a_503_saying_so(database: Database) -> None:
    tokens = await add_people(database)
    app = admin_app(database, InMemoryBus())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        response = await http.post(
            "/api/v1/leads/1/mark", json={"mark": "lead"}, headers=bearer(tokens[Role.operator])
        )
    assert response.status_code == 503
    assert "parser" in response.json()["detail"]
