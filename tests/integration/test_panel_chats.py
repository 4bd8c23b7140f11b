"""Chats from the panel and the API: added by link or @username in one canonical form, refused
with the reason next to the field (nothing written), which parser account holds each and each
account's load against the 500-chat cap, the week's counts, and a chat a campaign reads cannot be
deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, insert, select

from core.access import Role
from core.db import Database
from core.db.models import Account, AuditEntry, Chat, ChatAssignment, ChatDailyCount, OutboxMessage
from tests.integration.conftest import Panel


@dataclass
class Clients:
    browser: httpx.AsyncClient  # a signed-in admin
    api: httpx.AsyncClient  # an admin's token
    viewer_api: httpx.AsyncClient
    viewer: httpx.AsyncClient  # a signed-in viewer
    db: Database


@pytest.fixture
async def clients(panel: Panel) -> Clients:
    """The conftest's panel, seen as an admin and a viewer, each in a browser and by token."""
    return Clients(
        await panel.browser(Role.admin),
        panel.api(Role.admin),
        panel.api(Role.viewer),
        await panel.browser(Role.viewer),
        panel.db,
    )


async def _count(db: Database, what: object) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(what)) or 0)  # type: ignore[arg-type]


async def test_a_chat_added_by_link_is_listed_as_at_username_and_the_parser_is_told(
    clients: Clients,
) -> None:
    added = await clients.browser.post(
        "/chats", data={"ref": "https://t.me/Python_Jobs/123", "title": "Python jobs"}
    )
    assert added.status_code == 303
    page = await clients.browser.get("/chats")
    assert "@python_jobs" in page.text and "Python jobs" in page.text
    listed = {c["ref"]: c for c in (await clients.api.get("/chats")).json()}
    assert listed["@python_jobs"]["campaigns"] == [] and listed["@python_jobs"]["messages_7d"] == 0
    async with clients.db.session() as session:
        audited = await session.scalar(
            select(func.count()).where(AuditEntry.action == "chat_added")
        )
        announced = await session.scalar(
            select(func.count()).where(OutboxMessage.routing_key == "config.changed")
        )
    assert audited == 1 and announced and announced >= 1

    over_api = await clients.api.post("/chats", json={"ref": "t.me/+AbCdEf123"})
    assert over_api.status_code == 201 and over_api.json()["ref"] == "https://t.me/+AbCdEf123"
    renamed = await clients.api.put(
        f"/chats/{over_api.json()['id']}", json={"ref": "t.me/+AbCdEf123", "title": "Closed"}
    )
    assert renamed.status_code == 200 and renamed.json()["title"] == "Closed"


async def test_the_holder_its_load_and_the_weeks_counts_are_shown(clients: Clients) -> None:
    today = datetime.now(UTC).date()
    async with clients.db.transaction() as session:
        jobs = await session.scalar(select(Chat).where(Chat.ref == "@jobs"))
        parser = await session.scalar(select(Account.id).where(Account.name == "parser-1"))
        assert jobs is not None and parser is not None
        jobs.telegram_chat_id = -1001
        session.add(ChatAssignment(chat_id=jobs.id, account_id=parser))
        await session.execute(
            insert(ChatDailyCount),
            [
                {"telegram_chat_id": -1001, "day": today, "messages": 40, "matched": 3},
                {"telegram_chat_id": -1001, "day": today - timedelta(days=6), "messages": 2},
                {"telegram_chat_id": -1001, "day": today - timedelta(days=7), "messages": 500},
            ],
        )
        jobs_id = jobs.id
    page = await clients.viewer.get("/chats")
    assert page.status_code == 200
    row = page.text.split(f'data-chat="{jobs_id}"')[1].split("</tr>")[0]
    assert "parser-1" in row and "web · active" in row and "other · active" in row
    assert 'href="/campaigns/1"' in row  # each campaign links to its page
    assert ">42<" in row and ">3<" in row  # seven days, the eighth one back not counted
    loads = page.text.split('data-testid="loads"')[1]
    assert 'data-account="parser-1"' in loads and "1 / 500" in loads
    [load] = (await clients.viewer_api.get("/chat-load")).json()
    assert load == {"id": parser, "name": "parser-1", "status": "active", "chats": 1, "cap": 500}
    [listed] = [c for c in (await clients.api.get("/chats")).json() if c["ref"] == "@jobs"]
    assert listed["listener_account"] == "parser-1" and listed["listener_account_id"] == parser
    assert (listed["messages_7d"], listed["matched_7d"]) == (42, 3)


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        ("", "chat ref is empty"),
        ("https://example.com/jobs", "neither a t.me link nor a @username"),
        ("@ab", "username"),
        ("@JOBS", "already in the list"),
    ],
)
async def test_a_bad_reference_is_refused_next_to_the_field_and_nothing_is_written(
    clients: Clients, ref: str, reason: str
) -> None:
    before = await _count(clients.db, Chat)
    refused = await clients.browser.post("/chats", data={"ref": ref, "title": "typed title"})
    assert refused.status_code == 422
    field = refused.text.split('id="chat-ref"')[1].split("</div>")[0]
    assert "is-invalid" in field and reason in field
    assert f'value="{ref}"' in refused.text and 'value="typed title"' in refused.text
    over_api = await clients.api.post("/chats", json={"ref": ref})
    if "already" in reason:
        assert over_api.status_code == 409 and reason in over_api.json()["detail"]
    else:
        assert over_api.status_code == 422
        assert over_api.json()["detail"][0]["field"] == "ref"
    assert await _count(clients.db, Chat) == before


async def test_a_chat_a_campaign_reads_cannot_be_deleted_and_says_which(clients: Clients) -> None:
    listed = {c["ref"]: c for c in (await clients.api.get("/chats")).json()}
    jobs = listed["@jobs"]["id"]
    refused = await clients.browser.post(f"/chats/{jobs}/delete")
    assert refused.status_code == 409
    assert "the running campaigns other, web read @jobs" in refused.text
    over_api = await clients.api.delete(f"/chats/{jobs}")
    assert over_api.status_code == 409 and "web" in over_api.json()["detail"]
    assert (await clients.api.post(f"/campaigns/{1}/stop")).status_code == 200
    assert (await clients.api.post(f"/campaigns/{2}/pause")).status_code == 200
    still = await clients.api.delete(f"/chats/{jobs}")
    assert still.status_code == 409 and "running" not in still.json()["detail"]  # stopped: kept

    free = (await clients.api.post("/chats", json={"ref": "@spare_chat"})).json()
    assert (await clients.browser.post(f"/chats/{free['id']}/delete")).status_code == 303
    assert (await clients.browser.get(f"/chats/{free['id']}")).status_code == 404
    assert (await clients.browser.post(f"/chats/{free['id']}/delete")).status_code == 404
    assert (
        await clients.api.put(f"/chats/{free['id']}", json={"ref": "@x_y_z"})
    ).status_code == 404
    assert (await clients.api.delete(f"/chats/{free['id']}")).status_code == 404
    assert (await clients.browser.get("/chats/abc")).status_code == 404


async def test_a_viewer_reads_chats_but_may_not_change_them(clients: Clients) -> None:
    assert (await clients.viewer.get("/chats")).status_code == 200
    page = await clients.viewer.get("/chats")
    assert "hx-post" not in page.text.split('id="chat-form"')[1].split("</form>")[0]
    assert (await clients.viewer.post("/chats", data={"ref": "@new_chat"})).status_code == 403
    assert (await clients.viewer_api.post("/chats", json={"ref": "@new_chat"})).status_code == 403
    assert (await clients.viewer_api.delete("/chats/1")).status_code == 403
    assert await _count(clients.db, Chat) == 1


async def test_the_list_pages_and_searches_and_says_when_nothing_matches(clients: Clients) -> None:
    async with clients.db.transaction() as session:
        await session.execute(insert(Chat), [{"ref": f"@chat_number_{n:03d}"} for n in range(60)])
        session.add(Chat(ref="@needle_chat", title="Найти меня"))
    first = await clients.viewer.get("/chats")
    assert first.text.count("data-chat=") == 50 and "62 chats" in first.text
    second = await clients.viewer.get("/chats", params={"offset": 50})
    assert second.text.count("data-chat=") == 12
    for search in ("NEEDLE", "Найти"):  # the reference or the title
        found = await clients.viewer.get("/chats", params={"q": search})
        assert found.text.count("data-chat=") == 1 and "@needle_chat" in found.text
    none = await clients.viewer.get("/chats", params={"q": "nothing like it"})
    assert "No chat matches the search." in none.text
