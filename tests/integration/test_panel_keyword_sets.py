"""Keyword sets from the panel and the API: the workspace file's rules with the reason next to the
field, nothing written on a refusal, a set a campaign uses cannot be deleted, and "try it" says
which words match which keyword by which stem."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from admin.workspace.apply import apply_workspace, read_workspace
from core.access import Role
from core.bus.factory import make_bus
from core.db import Database
from core.db.models import AuditEntry, Chat, KeywordSet, OutboxMessage
from core.events import MessageIncoming, Profile
from core.security import SecretBox
from parser.activity import ChatActivity
from tests.conftest import PASSWORD, add_people, admin_app, bearer
from tests.integration.conftest import workspace


@pytest.fixture
async def clients(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, Database]]:
    """(a signed-in admin's browser, an admin's API client, the database)."""
    path = tmp_path / "ws.yaml"
    path.write_text(workspace(), encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    tokens = await add_people(database)
    app = admin_app(database, make_bus("memory://"))
    app.exception_handlers.pop(Exception)  # a 500 fails the test loudly
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as browser,
        httpx.AsyncClient(
            transport=transport,
            base_url="http://127.0.0.1/api/v1",
            headers=bearer(tokens[Role.admin]),
        ) as api,
    ):
        signed = await browser.post("/login", data={"login": "admin", "password": PASSWORD})
        assert signed.status_code == 303
        browser.headers["X-CSRFToken"] = browser.cookies["csrftoken"]
        yield browser, api, database


async def test_a_set_is_added_and_edited_from_the_panel_and_the_parser_is_told(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, Database],
) -> None:
    browser, api, db = clients
    form = {"name": "design", "keywords": "дизайнер\nлоготип\nфирменный стиль", "exclude": "курс"}
    added = await browser.post("/keyword-sets", data=form)
    assert added.status_code == 303
    page = await browser.get(added.headers["location"])
    assert page.status_code == 200 and "фирменный стиль" in page.text
    listed = {s["name"]: s for s in (await api.get("/keyword-sets")).json()}
    assert listed["design"]["keywords"] == ["дизайнер", "логотип", "фирменный стиль"]
    async with db.session() as session:
        audited = await session.scalar(
            select(func.count()).where(AuditEntry.action == "keyword_set_created")
        )
        announced = await session.scalar(
            select(func.count()).where(OutboxMessage.routing_key == "config.changed")
        )
    assert audited == 1 and announced and announced >= 1


async def test_a_bad_keyword_is_refused_next_to_its_field_and_nothing_is_written(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, Database],
) -> None:
    browser, api, db = clients
    async with db.session() as session:
        before = await session.scalar(select(func.count()).select_from(KeywordSet))
    form = {"name": "broken", "keywords": "дизайнер\n!!!", "exclude": ""}
    refused = await browser.post("/keyword-sets", data=form)
    assert refused.status_code == 422
    assert "line 2" in refused.text and "is-invalid" in refused.text
    assert "дизайнер\n!!!" in refused.text  # what was typed stays
    taken = await browser.post("/keyword-sets", data={"name": "web-dev", "keywords": "x1"})
    assert taken.status_code == 422 and "taken" in taken.text
    over_api = await api.post("/keyword-sets", json={"name": "api", "keywords": []})
    assert over_api.status_code == 422 and over_api.json()["detail"][0]["field"] == "keywords"
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(KeywordSet)) == before


async def test_a_set_a_campaign_uses_cannot_be_deleted_and_says_which(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, Database],
) -> None:
    browser, api, _ = clients
    used = next(s for s in (await api.get("/keyword-sets")).json() if s["campaigns"])
    refused = await browser.post(f"/keyword-sets/{used['id']}/delete")
    assert refused.status_code == 409 and used["campaigns"][0] in refused.text
    over_api = await api.delete(f"/keyword-sets/{used['id']}")
    assert over_api.status_code == 409
    free = (await api.post("/keyword-sets", json={"name": "spare", "keywords": ["x1"]})).json()
    assert (await api.delete(f"/keyword-sets/{free['id']}")).status_code == 204
    assert (await browser.get(f"/keyword-sets/{free['id']}")).status_code == 404


async def test_try_it_says_which_words_match_by_which_stem_and_what_vetoes(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, Database],
) -> None:
    browser, _, _ = clients
    query = {"keywords": "разработчик\nсделать сайт", "exclude": "вакансия"}
    lead = await browser.get(
        "/keyword-sets/try", params={**query, "text": "Ищу разработчика, надо сделать сайты"}
    )
    assert 'data-verdict="lead"' in lead.text
    assert "«разработчика» matches <strong>разработчик</strong>" in lead.text
    assert "«сделать сайты» matches" in lead.text
    vetoed = await browser.get(
        "/keyword-sets/try", params={**query, "text": "Вакансия: разработчик в офис"}
    )
    assert 'data-verdict="no"' in vetoed.text and "vetoes the set" in vetoed.text
    bad = await browser.get("/keyword-sets/try", params={"keywords": "!!!", "text": "x"})
    assert bad.status_code == 200 and "has no letters" in bad.text


async def test_try_it_counts_the_recent_sample_the_set_would_have_matched(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient, Database],
) -> None:
    browser, _, db = clients
    query = {"keywords": "разработчик", "exclude": "вакансия"}
    empty = await browser.get("/keyword-sets/try", params=query)
    assert "No chat messages sampled yet" in empty.text

    async with db.transaction() as session:
        await session.execute(update(Chat).where(Chat.ref == "@jobs").values(telegram_chat_id=-100))
    activity = ChatActivity(db, sample_size=200)
    texts = [
        (-100, "Ищу разработчика на сайт"),
        (-100, "Вакансия: разработчик в офис"),  # vetoed
        (-200, "Нужны разработчики для бота"),
        (-200, "Всем привет"),
        (-200, "Где купить кофе?"),
    ]
    for n, (chat_id, text) in enumerate(texts, start=1):
        payload = MessageIncoming(
            account_id=1,
            chat_id=chat_id,
            message_id=n,
            text=text,
            date=datetime.now(UTC),
            sender=Profile(user_id=n, first_name="Анна"),
        )
        activity.note(payload, matched=False)
    await activity.flush()

    tried = await browser.get("/keyword-sets/try", params=query)
    assert re.search(
        r'data-testid="sample-matched">2</strong> of the 5 recent messages in 2 chats', tried.text
    )
    examples = re.findall(r'data-testid="sample-example">(.*?)</li>', tried.text)
    assert len(examples) == 2
    assert any("@jobs" in e and "Ищу разработчика на сайт" in e for e in examples)
    assert not any("Вакансия" in e for e in examples)
    narrower = await browser.get("/keyword-sets/try", params={"keywords": "бот", "text": "x"})
    assert 'data-testid="sample-matched">1</strong>' in narrower.text
