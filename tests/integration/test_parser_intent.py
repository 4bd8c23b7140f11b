"""The parser's second stage: a keyword hit becomes a lead, a "maybe" or nothing, per campaign."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import select, update

from core.bus.memory import InMemoryBus
from core.db import Database
from core.db.models import Campaign, Lead, OutboxMessage
from core.events import Event, LeadReferred, MessageIncoming
from core.outbox import OutboxRelay
from core.security import SecretBox
from parser.intent.classify import Verdict
from parser.intent.defaults import load_default
from parser.service import ParserService
from tests.integration.conftest import apply_workspace_text, jobs_chat_message, say_to_parser

WORKSPACE = """\
accounts:
  - {name: parser-1, role: parser, session: s1}
keyword_sets:
  - {name: web-dev, keywords: [разработчик, developer]}
campaigns:
  - {name: web, keyword_sets: [web-dev], chats: ["@jobs_chat"], parser_accounts: [parser-1]}
"""
BUYER = "Нужен разработчик для интернет-магазина, кто возьмётся? Бюджет есть"
SELLER = "Я разработчик, делаю сайты под ключ, пишите в личку"
CHATTER = "разработчик"
NOT_A_HIT = "Кто-нибудь был на конференции в субботу?"


async def _service(
    db: Database, box: SecretBox, tmp_path: Path, workspace: str = WORKSPACE, **policy: Any
) -> ParserService:
    await apply_workspace_text(db, box, tmp_path, workspace, intent=policy)
    service = ParserService(db, OutboxRelay(db, InMemoryBus()))
    await service.reload()
    return service


async def _leads(db: Database) -> list[Lead]:
    async with db.session() as session:
        return list((await session.scalars(select(Lead).order_by(Lead.id))).all())


async def _announced(db: Database) -> list[dict[str, Any]]:
    async with db.session() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.routing_key == "lead.found")
            .order_by(OutboxMessage.id)
        )
        return [json.loads(r.body)["payload"] for r in rows]


def _stage_count(outcome: str) -> float:
    return REGISTRY.get_sample_value("coolthing_parser_intent_total", {"outcome": outcome}) or 0.0


async def test_a_sellers_hit_is_kept_as_a_maybe_with_its_score_and_reason(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    service = await _service(database, secret_box, tmp_path)
    await say_to_parser(service, 1, SELLER)
    [lead] = await _leads(database)
    assert lead.intent == "maybe"
    assert lead.intent_score is not None and lead.intent_score < 0.35
    assert lead.intent_reason and "«" in lead.intent_reason
    [found] = await _announced(database)
    assert (found["intent"], found["score"], found["reason"]) == (
        "maybe",
        lead.intent_score,
        lead.intent_reason,
    )


async def test_a_buyers_hit_is_a_lead(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    service = await _service(database, secret_box, tmp_path)
    await say_to_parser(service, 1, BUYER)
    [lead] = await _leads(database)
    assert lead.intent == "lead"
    assert lead.intent_score is not None and lead.intent_score >= 0.5
    assert "«нужен»" in (lead.intent_reason or "")
    assert [f["intent"] for f in await _announced(database)] == ["lead"]


async def test_below_the_threshold_drop_keeps_no_lead_and_counts_it(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    service = await _service(database, secret_box, tmp_path, below="drop")
    dropped = _stage_count("drop")
    await say_to_parser(service, 1, SELLER)
    assert await _leads(database) == []
    assert await _announced(database) == []
    assert _stage_count("drop") == dropped + 1


async def test_below_the_threshold_ask_keeps_the_lead_for_an_operator(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    service = await _service(database, secret_box, tmp_path, below="ask")
    await say_to_parser(service, 1, SELLER)
    [lead] = await _leads(database)
    assert lead.intent == "ask"
    assert [f["intent"] for f in await _announced(database)] == ["ask"]


async def test_a_message_without_a_keyword_never_reaches_the_second_stage(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    service = await _service(database, secret_box, tmp_path)
    before = {o: _stage_count(o) for o in ("lead", "maybe", "ask", "drop")}
    await say_to_parser(service, 1, NOT_A_HIT)
    assert {o: _stage_count(o) for o in before} == before
    await say_to_parser(service, 2, BUYER)
    assert _stage_count("lead") == before["lead"] + 1


async def test_a_maybe_becomes_a_lead_when_the_person_later_asks_clearly(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    service = await _service(database, secret_box, tmp_path)
    await say_to_parser(service, 1, SELLER)
    await say_to_parser(service, 2, BUYER)
    [lead] = await _leads(database)
    assert (lead.intent, lead.hits) == ("lead", 2)
    assert lead.text == BUYER  # the first DM answers the request, not the earlier message
    assert [f["intent"] for f in await _announced(database)] == ["maybe", "lead"]


async def test_a_lead_never_falls_back_to_maybe(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    service = await _service(database, secret_box, tmp_path)
    await say_to_parser(service, 1, BUYER)
    [first] = await _leads(database)
    await say_to_parser(service, 2, CHATTER)
    [lead] = await _leads(database)
    assert (lead.intent, lead.intent_score, lead.hits) == ("lead", first.intent_score, 2)
    assert lead.text == BUYER
    assert [f["intent"] for f in await _announced(database)] == ["lead", "lead"]


async def test_an_operators_not_a_lead_stays_and_new_hits_announce_nothing(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    service = await _service(database, secret_box, tmp_path)
    await say_to_parser(service, 1, SELLER)
    async with database.transaction() as session:
        await session.execute(update(Lead).values(intent="not_lead"))
    await say_to_parser(service, 2, BUYER)
    [lead] = await _leads(database)
    assert (lead.intent, lead.hits) == ("not_lead", 2)
    assert [f["intent"] for f in await _announced(database)] == ["maybe"]


async def test_with_the_stage_off_every_hit_is_a_lead_without_a_verdict(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    service = await _service(database, secret_box, tmp_path, enabled=False)
    await say_to_parser(service, 1, CHATTER)
    [lead] = await _leads(database)
    assert (lead.intent, lead.intent_score, lead.intent_reason) == (None, None, None)
    [found] = await _announced(database)
    assert found["intent"] is None


async def test_the_campaigns_threshold_decides_instead_of_the_models(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    service = await _service(database, secret_box, tmp_path, threshold=0.95)
    await say_to_parser(service, 1, "Ищу разработчика на проект")
    [lead] = await _leads(database)
    model_threshold = load_default("general").threshold
    assert lead.intent_score is not None and model_threshold <= lead.intent_score < 0.95
    assert lead.intent == "maybe"


async def test_the_senders_bio_is_weighed(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    service = await _service(database, secret_box, tmp_path)
    text = "Ищу разработчика"
    await say_to_parser(service, 1, text, user=1)
    await say_to_parser(
        service, 2, text, user=2, bio="Фрилансер, веб-разработчик, делаю сайты под ключ"
    )
    plain, freelancer = await _leads(database)
    assert plain.intent_score is not None and freelancer.intent_score is not None
    assert freelancer.intent_score < plain.intent_score


async def test_a_scenes_referral_is_a_lead_without_the_stage(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    service = await _service(database, secret_box, tmp_path)
    referral = LeadReferred(
        campaign="web",
        reason="scene Product Q&A",
        message=jobs_chat_message(1, CHATTER).payload_as(MessageIncoming),
    )
    await service.handle_referral(Event.of(referral), referral)
    [lead] = await _leads(database)
    assert lead.intent == "lead"
    assert [f["intent"] for f in await _announced(database)] == ["lead"]


async def test_a_judge_decides_inside_its_band_and_its_failure_keeps_the_models_verdict(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    asked: list[str] = []

    async def judge(campaign_id: int, text: str, bio: str | None, verdict: Verdict) -> Verdict:
        asked.append(text)
        if "сломай" in text:
            raise TimeoutError("the LLM did not answer")
        return Verdict(lead=True, score=verdict.score, reason="LLM: asks for a site", signals=())

    service = await _service(database, secret_box, tmp_path, judge=True, judge_band=[0.0, 0.5])
    service.use_judge(judge)
    await say_to_parser(service, 1, SELLER, user=1)  # low score: inside the band
    await say_to_parser(service, 2, BUYER, user=2)  # high score: the model alone decides
    await say_to_parser(service, 3, SELLER + " сломай", user=3)
    judged, clear, failed = await _leads(database)
    assert (judged.intent, judged.intent_reason) == ("lead", "LLM: asks for a site")
    assert clear.intent == "lead" and not (clear.intent_reason or "").startswith("LLM")
    assert failed.intent == "maybe"
    assert asked == [SELLER, SELLER + " сломай"]


async def test_a_retrained_model_swapped_in_memory_scores_the_next_hit(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    service = await _service(database, secret_box, tmp_path)
    async with database.session() as session:
        campaign_id = await session.scalar(select(Campaign.id))
    assert campaign_id is not None
    other = load_default("moving")
    assert service.use_model(campaign_id, other)
    assert not service.use_model(campaign_id + 100, other)
    await say_to_parser(service, 1, SELLER)
    [lead] = await _leads(database)
    expected = service.stage.get(campaign_id)
    assert expected is not None
    assert lead.intent_score == expected.classifier.classify(SELLER).score


async def test_campaigns_on_one_shipped_model_share_its_classifier_across_reloads(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    two = WORKSPACE + (
        '  - {name: web2, keyword_sets: [web-dev], chats: ["@jobs_chat"], '
        "parser_accounts: [parser-1]}\n"
        '  - {name: smm, keyword_sets: [web-dev], chats: ["@jobs_chat"], '
        "parser_accounts: [parser-1], intent: {model: smm}}\n"
    )
    service = await _service(database, secret_box, tmp_path, two)
    async with database.transaction() as session:  # the helper set every policy to the defaults
        await session.execute(
            update(Campaign).where(Campaign.name == "smm").values(intent={"model": "smm"})
        )
    await service.reload()
    web, web2, smm = (service.stage.get(n) for n in (1, 2, 3))
    assert web is not None and web2 is not None and smm is not None
    assert web.classifier is web2.classifier and smm.classifier is not web.classifier
    await service.reload()
    again = service.stage.get(1)
    assert again is not None and again.classifier is web.classifier  # not loaded again
