"""The second stage in the admin API and the workspace file: a campaign's intent policy is read,
written and validated; leads show their verdict, score and reason and filter by verdict."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from admin.workspace.apply import read_workspace
from admin.workspace.export import export_workspace
from core.access import Role
from core.db import Database
from core.events import MessageIncoming, Profile
from core.security import SecretBox
from core.yamlspec import SpecError
from parser.leads import IntentMark, record_hits
from parser.matcher import Hit
from tests.integration.conftest import Panel, apply_workspace_text

BODY: dict[str, Any] = {
    "name": "web",
    "keyword_sets": ["web-dev"],
    "chats": ["@jobs"],
    "parser_accounts": ["parser-1"],
    "manager_accounts": ["manager-1"],
}


async def _campaign(api: httpx.AsyncClient, name: str = "web") -> dict[str, Any]:
    campaigns: list[dict[str, Any]] = (await api.get("/campaigns")).json()
    return next(c for c in campaigns if c["name"] == name)


async def test_a_campaign_shows_its_intent_policy_with_the_defaults(panel: Panel) -> None:
    campaign = await _campaign(panel.api(Role.viewer))
    assert campaign["intent"] == {
        "enabled": True,
        "model": "general",
        "threshold": None,
        "below": "maybe",
        "learn": True,
        "judge": False,
        "judge_band": [0.25, 0.75],
    }


async def test_an_admin_sets_the_intent_policy_and_reads_it_back(panel: Panel) -> None:
    api = panel.api(Role.admin)
    campaign_id = (await _campaign(api))["id"]
    policy = {"model": "web_development", "threshold": 0.6, "below": "drop"}
    saved = await api.put(f"/campaigns/{campaign_id}", json=BODY | {"intent": policy})
    assert saved.status_code == 200, saved.text
    read = (await api.get(f"/campaigns/{campaign_id}")).json()["intent"]
    assert (read["model"], read["threshold"], read["below"], read["enabled"]) == (
        "web_development",
        0.6,
        "drop",
        True,
    )


async def test_a_bad_intent_policy_is_refused_naming_the_field(panel: Panel) -> None:
    api = panel.api(Role.admin)
    campaign_id = (await _campaign(api))["id"]
    cases = [
        ({"threshold": 1.5}, "intent.threshold", "0.95"),
        ({"below": "delete"}, "intent.below", "drop"),
        ({"model": "plumbing"}, "intent.model", "general"),
        ({"judge_band": [0.8, 0.2]}, "intent", "the lower first"),
        ({"treshold": 0.5}, "intent.treshold", "not a setting"),
    ]
    for policy, field, said in cases:
        refused = await api.put(f"/campaigns/{campaign_id}", json=BODY | {"intent": policy})
        assert refused.status_code == 422, (policy, refused.text)
        [error] = [e for e in refused.json()["detail"] if e["field"] == field]
        assert said in error["reason"], error
    assert (await _campaign(api))["intent"]["below"] == "maybe"  # nothing was written


async def test_a_viewer_cannot_change_the_policy(panel: Panel) -> None:
    api = panel.api(Role.viewer)
    refused = await api.put("/campaigns/1", json=BODY | {"intent": {"enabled": False}})
    assert refused.status_code == 403


async def _lead(db: Database, user: int, mark: IntentMark | None) -> None:
    message = MessageIncoming(
        account_id=1,
        chat_id=-100,
        chat_ref="@jobs",
        message_id=user,
        text=f"сообщение {user}",
        date=datetime.now(UTC),
        sender=Profile(user_id=user),
    )
    async with db.transaction() as session:
        await record_hits(
            session,
            message,
            [Hit(1, "web-dev", 1, ("разработчик",))],
            correlation_id=None,
            intents={1: mark} if mark else None,
        )


async def test_leads_show_their_verdict_and_filter_by_it(panel: Panel) -> None:
    await _lead(panel.db, 1, IntentMark("lead", 0.91, "«нужен» +3.0"))
    await _lead(panel.db, 2, IntentMark("maybe", 0.12, "«разработчик» −1.2"))
    await _lead(panel.db, 3, None)
    api = panel.api(Role.viewer)
    everyone = (await api.get("/leads")).json()["items"]
    assert [(x["telegram_user_id"], x["intent"], x["intent_score"]) for x in everyone] == [
        (3, None, None),
        (2, "maybe", 0.12),
        (1, "lead", 0.91),
    ]
    maybes = (await api.get("/leads", params={"intent": "maybe"})).json()
    assert maybes["total"] == 1
    assert maybes["items"][0]["intent_reason"] == "«разработчик» −1.2"
    unjudged = (await api.get("/leads", params={"intent": "none"})).json()["items"]
    assert [x["telegram_user_id"] for x in unjudged] == [3]
    refused = await api.get("/leads", params={"intent": "perhaps"})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["field"] == "intent"
    one = (await api.get("/leads", params={"intent": "lead"})).json()["items"][0]
    assert (await api.get(f"/leads/{one['id']}")).json()["intent_reason"] == "«нужен» +3.0"


WORKSPACE = """\
accounts:
  - {name: parser-1, role: parser, session: s1}
keyword_sets:
  - {name: web-dev, keywords: [разработчик]}
campaigns:
  - name: web
    keyword_sets: [web-dev]
    chats: ["@jobs"]
    parser_accounts: [parser-1]
    intent: {model: smm, threshold: 0.4, below: ask, judge_band: [0.3, 0.6]}
  - {name: plain, keyword_sets: [web-dev], chats: ["@jobs"], parser_accounts: [parser-1]}
"""


async def test_the_workspace_file_carries_the_intent_policy_both_ways(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    await apply_workspace_text(database, secret_box, tmp_path, WORKSPACE)
    spec, _ = read_workspace(tmp_path / "ws.yaml")
    async with database.session() as session:
        exported = yaml.safe_load(await export_workspace(session))
    web, plain = exported["campaigns"]
    assert web["intent"] == {
        "model": "smm",
        "threshold": 0.4,
        "below": "ask",
        "judge_band": [0.3, 0.6],
    }
    assert "intent" not in plain  # the defaults are not written out
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump(exported, allow_unicode=True), encoding="utf-8")
    spec_again, _ = read_workspace(again)
    assert spec_again.campaigns[0].intent == spec.campaigns[0].intent


def test_a_workspace_file_with_a_bad_intent_policy_says_where(tmp_path: Path) -> None:
    path = tmp_path / "ws.yaml"
    path.write_text(WORKSPACE.replace("threshold: 0.4", "threshold: 2"), encoding="utf-8")
    with pytest.raises(SpecError) as refused:
        read_workspace(path)
    assert "ws.yaml:10: campaigns[0].intent.threshold" in str(refused.value)
