"""Campaigns from the panel and the API: every outreach setting saved and read back as the
workspace export shows it, refusals next to their fields (input kept, nothing written), JSON
field errors, start / pause / stop changing what the parser and the manager do, delete refusals,
404s, and a viewer who may read but not change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from admin.workspace.apply import apply_workspace, read_workspace
from admin.workspace.export import export_workspace
from admin.workspace.spec import shipped_intent_models
from core.access import Role
from core.bus.memory import InMemoryBus
from core.db import Database
from core.db.models import AuditEntry, Campaign, Lead, OutboxMessage
from core.events import Event, MessageIncoming, Profile
from core.intent import IntentPolicy
from core.outbox import OutboxRelay
from core.platform import Platform
from core.security import SecretBox
from core.settings import Settings
from parser.bootstrap import start_parser
from tests.conftest import PASSWORD, add_people, admin_app, bearer
from tests.integration.conftest import World, workspace

# Every outreach setting, none of them the default, as the form sends them.
FORM: dict[str, Any] = {
    "name": "design",
    "chats": ["@jobs"],
    "keyword_sets": ["web-dev"],
    "parser_accounts": ["parser-1"],
    "manager_accounts": ["manager-1", "manager-2"],
    "outreach.offer": "Логотипы за неделю.",
    "outreach.prompt": "Offer: {{ offer }}\r\nWrite briefly.",
    "outreach.templates": "Здравствуйте, {name}! {offer}\r\n{Добрый день|Привет}! {offer}",
    "outreach.follow_ups": "Напомню о себе: {offer}",
    "outreach.stages": "hello\nsell\nbye",
    "outreach.max_stage_step": "2",
    "outreach.new_dms_per_day": "15",
    "outreach.messages_per_minute": "2",
    "outreach.warmup_days": "3",
    "outreach.warmup_start_dms": "5",
    "outreach.min_gap_seconds": "30",
    "outreach.max_gap_seconds": "120.5",
    "outreach.contact_window_days": "60",
    "outreach.timezone": "Europe/Moscow",
    "outreach.quiet_hours": "on",
    "outreach.quiet_hours.start": "23:00",
    "outreach.quiet_hours.end": "08:30",
    "outreach.approval": "on",
    "outreach.approval_hours": "6",
    "outreach.allowed_links": "https://example.com/portfolio",
    "outreach.allowed_contacts": "@design_team\nhello@example.com",
    "outreach.min_length": "20",
    "outreach.max_length": "600",
    "outreach.opt_out_phrases": "отстаньте\nне интересно",
    "outreach.opt_out_reply": "Хорошо, не буду.",
    "outreach.handoff_phrases": "позовите дизайнера",
    "outreach.max_turns": "5",
    "outreach.history_turns": "6",
    "outreach.llm_model": "gpt-test",
    "outreach.llm_base_url": "http://127.0.0.1:9/v1",
    "llm_api_key": "sk-very-secret-key",
}
EXPORTED = {
    "offer": "Логотипы за неделю.",
    "prompt": "Offer: {{ offer }}\nWrite briefly.",
    "templates": ["Здравствуйте, {name}! {offer}", "{Добрый день|Привет}! {offer}"],
    "follow_ups": ["Напомню о себе: {offer}"],
    "stages": ["hello", "sell", "bye"],
    "max_stage_step": 2,
    "new_dms_per_day": 15,
    "messages_per_minute": 2,
    "warmup_days": 3,
    "warmup_start_dms": 5,
    "min_gap_seconds": 30.0,
    "max_gap_seconds": 120.5,
    "contact_window_days": 60,
    "timezone": "Europe/Moscow",
    "quiet_hours": {"start": "23:00", "end": "08:30"},
    "approval": True,
    "approval_hours": 6.0,
    "allowed_links": ["https://example.com/portfolio"],
    "allowed_contacts": ["@design_team", "hello@example.com"],
    "min_length": 20,
    "max_length": 600,
    "opt_out_phrases": ["отстаньте", "не интересно"],
    "opt_out_reply": "Хорошо, не буду.",
    "handoff_phrases": ["позовите дизайнера"],
    "max_turns": 5,
    "history_turns": 6,
    "llm_model": "gpt-test",
    "llm_base_url": "http://127.0.0.1:9/v1",
}


@dataclass
class Panel:
    browser: httpx.AsyncClient  # a signed-in admin
    viewer: httpx.AsyncClient  # a signed-in viewer
    api: httpx.AsyncClient  # an admin's token
    viewer_api: httpx.AsyncClient
    world: World  # the manager's parts on the same database and bus
    platform: Platform


@pytest.fixture
async def panel(database: Database, secret_box: SecretBox, tmp_path: Path) -> AsyncIterator[Panel]:
    path = tmp_path / "ws.yaml"
    path.write_text(workspace(), encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    tokens = await add_people(database)
    world = World(database)
    bus: InMemoryBus = world.bus
    await bus.start()
    platform = Platform(Settings(), database, bus, secret_box, OutboxRelay(database, bus))
    app = admin_app(database, bus)
    app.exception_handlers.pop(Exception)  # a 500 fails the test loudly
    transport = httpx.ASGITransport(app=app)
    site, api = "http://127.0.0.1", "http://127.0.0.1/api/v1"
    async with (
        httpx.AsyncClient(transport=transport, base_url=site) as browser,
        httpx.AsyncClient(transport=transport, base_url=site) as viewer,
        httpx.AsyncClient(
            transport=transport, base_url=api, headers=bearer(tokens[Role.admin])
        ) as admin_api,
        httpx.AsyncClient(
            transport=transport, base_url=api, headers=bearer(tokens[Role.viewer])
        ) as viewer_api,
    ):
        for http, login in ((browser, "admin"), (viewer, "viewer")):
            signed = await http.post("/login", data={"login": login, "password": PASSWORD})
            assert signed.status_code == 303
            http.headers["X-CSRFToken"] = http.cookies["csrftoken"]
        yield Panel(browser, viewer, admin_api, viewer_api, world, platform)
    await bus.close()


async def _campaign_count(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Campaign)) or 0)


async def _exported(db: Database, name: str) -> dict[str, Any]:
    async with db.session() as session:
        document = yaml.safe_load(await export_workspace(session))
    [campaign] = [c for c in document["campaigns"] if c["name"] == name]
    return dict(campaign)


async def test_every_outreach_setting_from_the_form_reads_back_as_the_export_shows_it(
    panel: Panel,
) -> None:
    saved = await panel.browser.post("/campaigns", data=FORM)
    assert saved.status_code == 303, saved.text
    exported = await _exported(panel.world.db, "design")
    assert exported["outreach"] == EXPORTED
    assert exported["status"] == "paused"  # started with its button
    assert exported["manager_accounts"] == ["manager-1", "manager-2"]
    assert "sk-very-secret-key" not in str(exported)

    page = await panel.browser.get(saved.headers["location"])
    assert page.status_code == 200 and "sk-very-secret-key" not in page.text
    assert 'value="Europe/Moscow"' in page.text and 'value="08:30"' in page.text
    assert "{Добрый день|Привет}! {offer}</textarea>" in page.text
    assert "stored; type a new one to replace it" in page.text
    [read] = [c for c in (await panel.api.get("/campaigns")).json() if c["name"] == "design"]
    assert read["outreach"] == EXPORTED and read["has_llm_api_key"] is True
    assert "sk-very-secret-key" not in str(read)

    again = await panel.browser.post(saved.headers["location"], data=FORM | {"llm_api_key": ""})
    assert again.status_code == 303  # saved unchanged: the key stays, the settings too
    assert (await _exported(panel.world.db, "design"))["outreach"] == EXPORTED
    gone = await panel.browser.post(
        saved.headers["location"], data=FORM | {"llm_api_key": "", "forget_llm_api_key": "on"}
    )
    assert gone.status_code == 303
    assert (await panel.api.get(f"/campaigns/{read['id']}")).json()["has_llm_api_key"] is False


async def test_form_errors_stand_next_to_their_fields_keep_the_input_and_write_nothing(
    panel: Panel,
) -> None:
    before = await _campaign_count(panel.world.db)
    bad = FORM | {
        "name": "broken",
        "manager_accounts": ["parser-1"],
        "outreach.timezone": "Mars/Olympus",
        "outreach.new_dms_per_day": "lots",
        "outreach.prompt": "Hello\n{{ offer }\nbye",
        "outreach.allowed_contacts": "@design_team\nnot a contact",
    }
    refused = await panel.browser.post("/campaigns", data=bad)
    assert refused.status_code == 422

    def error(key: str) -> str:
        return refused.text.split(f'data-error="{key}">')[1].split("</div>")[0]

    assert "unknown time zone" in error("outreach.timezone")
    assert "valid integer" in error("outreach.new_dms_per_day")
    assert "prompt template, line 2" in error("outreach.prompt")
    assert "line 2" in error("outreach.allowed_contacts")
    assert 'value="Mars/Olympus"' in refused.text and 'value="lots"' in refused.text
    assert "Hello\n{{ offer }\nbye</textarea>" in refused.text
    assert "sk-very-secret-key" not in refused.text  # a secret is not sent back
    gaps = FORM | {"outreach.min_gap_seconds": "500"}  # a rule between two fields
    refused = await panel.browser.post("/campaigns", data=gaps)
    assert "min_gap_seconds must not exceed max_gap_seconds" in error("outreach.min_gap_seconds")
    assert 'value="500"' in refused.text
    wrong_role = FORM | {"name": "broken", "manager_accounts": ["parser-1"]}
    refused = await panel.browser.post("/campaigns", data=wrong_role)
    assert refused.status_code == 422 and "has role &#39;parser&#39;" in error("manager_accounts")
    taken = await panel.browser.post("/campaigns", data=FORM | {"name": "web"})
    assert taken.status_code == 422 and "taken" in taken.text
    nothing = FORM | {"name": " ", "chats": [], "keyword_sets": []}
    refused = await panel.browser.post("/campaigns", data=nothing)
    assert "choose at least one" in error("chats") and "choose at least one" in error(
        "keyword_sets"
    )
    assert await _campaign_count(panel.world.db) == before
    async with panel.world.db.session() as session:
        audited = await session.scalar(
            select(func.count()).where(AuditEntry.action == "campaign_created")
        )
    assert audited == 0


async def test_the_api_creates_edits_and_refuses_with_json_field_errors(panel: Panel) -> None:
    body: dict[str, Any] = {
        "name": "api-made",
        "keyword_sets": ["web-dev"],
        "chats": ["t.me/New_Chat"],
        "parser_accounts": ["parser-1"],
        "outreach": {"new_dms_per_day": 5, "warmup_start_dms": 2, "approval": True},
    }
    made = await panel.api.post("/campaigns", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "paused" and made.json()["chats"] == ["@new_chat"]
    campaign_id = made.json()["id"]
    edited = await panel.api.put(
        f"/campaigns/{campaign_id}", json=body | {"manager_accounts": ["manager-1"]}
    )
    assert edited.status_code == 200 and edited.json()["manager_accounts"] == ["manager-1"]
    assert (await _exported(panel.world.db, "api-made"))["outreach"] == body["outreach"]

    bad = body | {
        "outreach": {"new_dms_per_day": 0, "typo_setting": 1, "stages": ["only"]},
        "keyword_sets": [],
    }
    refused = await panel.api.put(f"/campaigns/{campaign_id}", json=bad)
    assert refused.status_code == 422
    fields = {e["field"]: e["reason"] for e in refused.json()["detail"]}
    assert set(fields) >= {"keyword_sets", "outreach.new_dms_per_day", "outreach.typo_setting"}
    unknown = await panel.api.post("/campaigns", json=body | {"name": "x", "keyword_sets": ["no"]})
    assert unknown.json()["detail"] == [
        {"field": "keyword_sets", "reason": "unknown keyword set 'no'"}
    ]
    assert (await panel.api.get("/campaigns/9999")).status_code == 404
    assert (await panel.api.put("/campaigns/9999", json=body)).status_code == 404
    assert (await panel.api.post("/campaigns/9999/start")).status_code == 404
    assert (await panel.browser.get("/campaigns/9999")).status_code == 404
    assert (await panel.browser.post("/campaigns/9999", data=FORM)).status_code == 404
    assert (
        await panel.browser.post("/campaigns/9999/status", data={"status": "active"})
    ).status_code == 404
    assert (await panel.api.delete(f"/campaigns/{campaign_id}")).status_code == 204
    assert (await panel.browser.get(f"/campaigns/{campaign_id}")).status_code == 404


async def test_a_running_campaign_or_one_with_leads_cannot_be_deleted(panel: Panel) -> None:
    running = await panel.browser.post("/campaigns/1/delete")
    assert running.status_code == 409 and "is running: stop it first" in running.text
    await panel.world.lead(user=901, campaign=1)
    assert (await panel.api.post("/campaigns/1/stop")).status_code == 200
    with_leads = await panel.api.delete("/campaigns/1")
    assert with_leads.status_code == 409 and "1 leads" in with_leads.json()["detail"]
    assert (await panel.api.get("/campaigns/1")).status_code == 200


async def test_a_viewer_reads_campaigns_but_may_not_change_them(panel: Panel) -> None:
    assert (await panel.viewer.get("/campaigns")).status_code == 200
    page = await panel.viewer.get("/campaigns/1")
    assert page.status_code == 200 and 'data-action="' not in page.text
    assert (await panel.viewer.get("/campaigns/new")).status_code == 403
    assert (await panel.viewer.post("/campaigns", data=FORM)).status_code == 403
    assert (
        await panel.viewer.post("/campaigns/1/status", data={"status": "stopped"})
    ).status_code == 403
    assert (await panel.viewer_api.post("/campaigns/1/stop")).status_code == 403
    assert (await panel.viewer_api.delete("/campaigns/1")).status_code == 403
    assert (await panel.viewer_api.get("/campaigns/1")).json()["status"] == "active"


async def test_start_pause_stop_are_audited_announced_and_shown(panel: Panel) -> None:
    for status, action in (("paused", "campaign_paused"), ("stopped", "campaign_stopped")):
        changed = await panel.browser.post("/campaigns/1/status", data={"status": status})
        assert changed.status_code == 303
        page = await panel.browser.get("/campaigns/1")
        assert f'data-status="{status}"' in page.text
        async with panel.world.db.session() as session:
            assert await session.scalar(select(func.count()).where(AuditEntry.action == action))
    started = await panel.browser.post(
        "/campaigns/1/status", data={"status": "active"}, headers={"HX-Request": "true"}
    )
    assert started.headers["HX-Redirect"] == "/campaigns/1"
    bogus = await panel.browser.post("/campaigns/1/status", data={"status": "deleted"})
    assert bogus.status_code == 422
    async with panel.world.db.session() as session:
        announced = await session.scalar(
            select(func.count()).where(OutboxMessage.routing_key == "config.changed")
        )
    assert announced and announced >= 3


async def test_the_campaign_page_shows_its_numbers_and_links(panel: Panel) -> None:
    await panel.world.conversations.on_lead(await panel.world.lead(user=911))
    await panel.world.lead(user=912, campaign=1)
    page = await panel.viewer.get("/campaigns/1")
    numbers = page.text.split('data-testid="numbers"')[1].split("</form>")[0]
    assert '<a href="/leads?campaign=1">2</a>' in numbers
    assert 'data-conversations="active">active: <strong>1</strong>' in numbers
    assert 'href="/inbox?campaign=1"' in page.text and 'href="/campaigns/1/prompt"' in page.text


# ---- what the services do ----------------------------------------------------------------


async def _until(check: Any, what: str) -> None:
    for _ in range(250):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"gave up waiting for {what}")


async def _chat_message(platform: Platform, db: Database, user: int) -> list[int]:
    """A matching message in @jobs, handed to the parser; the campaigns that made it a lead
    (one transaction writes them all, so the first one seen means all are there)."""
    message = MessageIncoming(
        account_id=1,
        chat_id=-1001,
        chat_ref="@jobs",
        message_id=user,
        text="Ищу разработчика на проект",
        date=datetime.now(UTC),
        sender=Profile(user_id=user, first_name="Анна"),
    )
    await platform.bus.publish(Event.of(message))

    async def recorded() -> bool:
        return bool(await _leads_of(db, user))

    await _until(recorded, "the parser to record the lead")
    return await _leads_of(db, user)


async def _leads_of(db: Database, user: int) -> list[int]:
    async with db.session() as session:
        query = select(Lead.campaign_id).where(Lead.telegram_user_id == user)
        return sorted(await session.scalars(query))


async def test_a_paused_campaigns_parser_makes_no_leads_until_it_is_started(
    panel: Panel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="parser.service")
    service = await start_parser(panel.platform)  # the parser's own bootstrap
    try:

        async def reloaded() -> None:
            """Every config.changed published, and the parser recompiled once for each."""
            await panel.platform.relay.drain()
            async with panel.world.db.session() as session:
                announced = await session.scalar(
                    select(func.count()).where(OutboxMessage.routing_key == "config.changed")
                )

            async def caught_up() -> bool:
                compiled = sum(r.getMessage() == "rules compiled" for r in caplog.records)
                return compiled >= 1 + (announced or 0)  # its start, then each change

            await _until(caught_up, "the parser to recompile its rules")

        assert (await panel.api.post("/campaigns/1/pause")).status_code == 200
        await reloaded()
        leads = await _chat_message(panel.platform, panel.world.db, 921)
        assert leads == [2]  # "other" still runs, "web" does not

        started = await panel.browser.post("/campaigns/1/status", data={"status": "active"})
        assert started.status_code == 303
        await reloaded()
        assert await _chat_message(panel.platform, panel.world.db, 922) == [1, 2]
    finally:
        await service.stop()


async def test_a_stopped_campaign_sends_nothing_more_and_a_paused_one_goes_on(panel: Panel) -> None:
    world = panel.world
    await world.conversations.on_lead(await world.lead(user=931))
    await world.conversations.on_lead(await world.lead(user=932))
    assert (await panel.api.post("/campaigns/1/stop")).status_code == 200
    await world.dispatcher.dispatch_due()
    for user in (931, 932):
        [first] = await world.outbound(user)
        assert first.status == "cancelled" and first.reason == "the campaign is stopped"
    [conversation] = await world.conversations_of(931)
    assert conversation.account_id is not None
    await world.reply(931, conversation.account_id, "Да, расскажите подробнее")
    assert len(await world.outbound(931)) == 1  # the reply is kept for a person, not answered

    await world.conversations.on_lead(await world.lead(user=933, campaign=2))
    assert (await panel.api.post("/campaigns/2/pause")).status_code == 200
    await world.dispatcher.dispatch_due()
    [first] = await world.outbound(933)
    assert first.status == "queued"  # paused: a conversation already open goes on
    [conversation] = await world.conversations_of(933)
    assert conversation.account_id is not None
    await world.reply(933, conversation.account_id, "Да, расскажите подробнее")
    assert len(await world.outbound(933)) == 2


# ---- who counts as a lead (the second stage) -------------------------------------------------


async def test_the_form_offers_the_second_stages_settings_with_the_shipped_models(
    panel: Panel,
) -> None:
    page = await panel.browser.get("/campaigns/new")

    block = page.text.split('data-testid="intent-settings"')[1].split("</form>")[0]
    shipped = shipped_intent_models()
    assert shipped and all(f'<option value="{m}"' in block for m in shipped)
    assert '<option value="general" selected>' in block  # the defaults: on, general, maybe, learn
    assert 'name="intent.enabled" value="on" checked' in block
    assert 'name="intent.below" value="maybe" checked' in block
    assert 'name="intent.learn" value="on" checked' in block
    assert 'name="intent.threshold" class="form-control" value=""' in block


async def test_the_campaign_page_counts_the_leads_nobody_writes_to_by_verdict(
    panel: Panel,
) -> None:
    for user, intent in ((921, "maybe"), (922, "maybe"), (923, "lead")):
        found = await panel.world.lead(user=user)
        async with panel.world.db.transaction() as session:
            lead = await session.get(Lead, found.lead_id)
            assert lead is not None
            lead.intent = intent

    page = await panel.viewer.get("/campaigns/1")

    numbers = page.text.split('data-testid="numbers"')[1].split("</form>")[0]
    assert '<a href="/leads?campaign=1&amp;intent=maybe" data-verdicts="maybe">maybe: 2</a>' in (
        numbers
    )


INTENT_FORM = FORM | {
    "name": "judged",
    "intent.model": "web_development",
    "intent.threshold": "0,6",
    "intent.below": "ask",
}  # the stage on, learning off (its checkbox not sent)


async def test_the_second_stages_settings_save_read_back_and_refuse_by_field(
    panel: Panel,
) -> None:
    saved = await panel.browser.post("/campaigns", data=INTENT_FORM | {"intent.enabled": "on"})
    assert saved.status_code == 303, saved.text
    async with panel.world.db.session() as session:
        campaign = await session.scalar(select(Campaign).where(Campaign.name == "judged"))
        assert campaign is not None
    stored = IntentPolicy.model_validate(campaign.intent)
    assert (stored.enabled, stored.model, stored.threshold) == (True, "web_development", 0.6)
    assert (stored.below, stored.learn) == ("ask", False)
    form = await panel.browser.get(saved.headers["location"])
    assert 'name="intent.threshold" class="form-control" value="0.6"' in form.text

    bad = INTENT_FORM | {"intent.model": "astrology", "intent.threshold": "2", "name": "bad"}
    refused = await panel.browser.post("/campaigns", data=bad)

    assert refused.status_code == 422

    def error(key: str) -> str:
        return refused.text.split(f'data-error="{key}">')[1].split("</div>")[0]

    assert "no shipped intent model &#39;astrology&#39;" in error("intent.model")
    assert "less than or equal to 0.95" in error("intent.threshold")
    assert 'value="2"' in refused.text  # what was typed stays
    async with panel.world.db.session() as session:
        assert await session.scalar(select(Campaign).where(Campaign.name == "bad")) is None
