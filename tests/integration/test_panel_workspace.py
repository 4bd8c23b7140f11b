"""Workspace export and import in the panel and the API: the download is the YAML the CLI reads,
without secrets; a dry run says what would be created and updated and writes nothing; applying
writes it in one transaction, audited; a file with an error answers with the CLI's file, line
and field beside the numbered text, secrets masked, and writes nothing; admins only."""

from __future__ import annotations

import yaml
from sqlalchemy import func, select

from core.access import Role
from core.db import Database
from core.db.models import AuditEntry, Campaign, KeywordSet, OutboxMessage
from tests.integration.conftest import Panel

CHANGE = """\
keyword_sets:
  - name: design
    keywords: [дизайнер, логотип]
  - name: web-dev
    keywords: [разработчик, программист]
chats:
  - ref: "@design_jobs"
"""
BROKEN = """\
accounts:
  - {name: manager-9, role: manager, session: supersecret-session-9}
keyword_sets:
  - name: design
    keywords: [дизайнер]
campaigns:
  - name: web
    keyword_sets: [nope]
    chats: ["@jobs"]
    parser_accounts: [parser-1]
    colour: blue
"""


async def counts(db: Database) -> tuple[int, int, int, int]:
    """Keyword sets, campaigns, audit rows and outbox rows: what an import would change."""
    async with db.session() as session:
        found = []
        for model in (KeywordSet, Campaign, AuditEntry, OutboxMessage):
            found.append(int(await session.scalar(select(func.count()).select_from(model)) or 0))
    return found[0], found[1], found[2], found[3]


async def keywords_of(db: Database, name: str) -> list[str] | None:
    async with db.session() as session:
        found = await session.scalar(select(KeywordSet).where(KeywordSet.name == name))
    return list(found.keywords) if found else None


async def test_the_export_is_the_yaml_the_cli_reads_without_secrets(panel: Panel) -> None:
    browser = await panel.browser()
    page = await browser.get("/workspace")
    assert page.status_code == 200 and 'href="/api/v1/workspace"' in page.text
    exported = await browser.get("/api/v1/workspace")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    document = yaml.safe_load(exported.text)
    assert [c["name"] for c in document["campaigns"]] == ["web", "other"]
    assert all("session" not in account for account in document["accounts"])
    assert "s1" not in exported.text
    again = await panel.api().post("/workspace", content=exported.content)
    assert again.status_code == 200 and again.json()["created"] == {}


async def test_a_dry_run_says_what_would_change_and_writes_nothing(panel: Panel) -> None:
    browser = await panel.browser()
    before = await counts(panel.db)
    shown = await browser.post("/workspace/preview", data={"text": CHANGE})
    assert shown.status_code == 200 and "Dry run: nothing was written" in shown.text
    plan = shown.text[shown.text.index('data-testid="plan"') :]
    sets = plan[plan.index('data-kind="keyword_sets"') :].split("</tr>")[0]
    assert 'data-created="1"' in sets and "design" in sets
    assert 'data-updated="1"' in sets and "web-dev" in sets
    assert "@design_jobs" in plan[plan.index('data-kind="chats"') :].split("</tr>")[0]
    assert CHANGE.splitlines()[2] in shown.text  # the text stays for the Apply that follows
    assert await counts(panel.db) == before
    assert await keywords_of(panel.db, "web-dev") == ["разработчик"]
    over_api = await panel.api().post("/workspace", params={"dry_run": "true"}, content=CHANGE)
    assert over_api.json() == {
        "applied": False,
        "created": {"chats": ["@design_jobs"], "keyword_sets": ["design"]},
        "updated": {"keyword_sets": ["web-dev"]},
    }
    assert await counts(panel.db) == before


async def test_applying_writes_it_audits_it_and_tells_the_services(panel: Panel) -> None:
    browser = await panel.browser()
    sets, campaigns, audits, events = await counts(panel.db)
    applied = await browser.post("/workspace/apply", data={"text": CHANGE})
    assert applied.status_code == 200 and ">Applied<" in applied.text
    assert await keywords_of(panel.db, "design") == ["дизайнер", "логотип"]
    assert await keywords_of(panel.db, "web-dev") == ["разработчик", "программист"]
    async with panel.db.session() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "workspace_applied")
        )
        announced = await session.scalar(
            select(func.count()).where(OutboxMessage.routing_key == "config.changed")
        )
    assert entry is not None and entry.actor == "admin"
    assert entry.detail["created"] == {"keyword_sets": 1, "chats": 1}
    assert announced == 1 + 1  # the fixture's own apply, then this one
    assert await counts(panel.db) == (sets + 1, campaigns, audits + 1, events + 1)


async def test_errors_name_file_line_and_field_beside_the_text_and_write_nothing(
    panel: Panel,
) -> None:
    browser = await panel.browser()
    before = await counts(panel.db)
    refused = await browser.post("/workspace/apply", data={"text": BROKEN})
    assert refused.status_code == 422
    assert "pasted text:11" in refused.text and "campaigns[0].colour" in refused.text
    assert "unknown field" in refused.text and 'data-problem-line="11"' in refused.text
    assert "colour: blue" in refused.text  # what was typed stays in the box
    uploaded = await browser.post(
        "/workspace/apply", files={"file": ("ws.yaml", BROKEN.replace("    colour: blue\n", ""))}
    )
    assert uploaded.status_code == 422
    assert "ws.yaml:8" in uploaded.text and "campaigns[0].keyword_sets[0]" in uploaded.text
    assert "unknown keyword set &#39;nope&#39;" in uploaded.text
    assert 'data-problem-line="8"' in uploaded.text
    assert "supersecret-session-9" not in uploaded.text  # listed with the secret masked
    not_yaml = await browser.post("/workspace/preview", files={"file": ("bad.yaml", b"\xff\xfe")})
    assert (
        not_yaml.status_code == 422 and "bad.yaml:1" in not_yaml.text and "UTF-8" in not_yaml.text
    )
    over_api = await panel.api().post("/workspace", content=BROKEN)
    assert over_api.status_code == 422
    problem = over_api.json()["detail"][0]
    assert problem["line"] == 11 and problem["field"] == "campaigns[0].colour"
    assert problem["reason"].startswith("request body:11: campaigns[0].colour: unknown field")
    assert await counts(panel.db) == before
    assert await keywords_of(panel.db, "design") is None


async def test_only_admins_export_or_import(panel: Panel) -> None:
    before = await counts(panel.db)
    for role in (Role.viewer, Role.operator):
        browser = await panel.browser(role)
        assert (await browser.get("/workspace")).status_code == 403
        assert (await browser.post("/workspace/apply", data={"text": CHANGE})).status_code == 403
        assert (await browser.get("/api/v1/workspace")).status_code == 403
        assert (await panel.api(role).post("/workspace", content=CHANGE)).status_code == 403
    sets, campaigns, _, events = await counts(panel.db)  # sign-ins are audited
    assert (sets, campaigns, events) == (before[0], before[1], before[3])
