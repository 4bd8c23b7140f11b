"""The panel's alert log (/alerts), the chats that get alerts, and linking one's Telegram: a code
the bot accepts, the current link, Unlink as an event for the notifier (and an owner unlinking
anyone); API tokens of scope alerts made from the token page."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import select

from core.access import Role
from core.db import Database
from core.db.models import AuditEntry, OutboxMessage
from core.db.notifier_models import TelegramLink
from core.telegram_link_codes import read_code
from tests.integration.conftest import Panel
from tests.integration.test_alerts_api import NOW, seed_log, store_alert, user_id


async def unlinks(db: Database) -> list[dict[str, object]]:
    async with db.session() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        bodies = [json.loads(r.body) for r in rows]
    return [b["payload"] for b in bodies if b["name"] == "telegram.unlink"]


async def audited(db: Database, action: str) -> list[tuple[str, dict[str, object]]]:
    async with db.session() as session:
        rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return [(r.actor, dict(r.detail)) for r in rows]


async def link(db: Database, login: str, name: str = "Olga K") -> None:
    """The link as the notifier records it after /start CODE."""
    async with db.transaction() as session:
        session.add(
            TelegramLink(
                user_id=await user_id(db, login),
                telegram_user_id=777,
                telegram_name=name,
                code_nonce="n1",
                linked_at=NOW,
            )
        )


async def test_a_viewer_reads_the_alert_log_with_who_got_what_and_did_what(panel: Panel) -> None:
    old, new = await seed_log(panel.db)
    viewer = await panel.browser(Role.viewer)
    page = await viewer.get("/alerts")
    assert page.status_code == 200
    html = page.text
    assert 'href="/alerts"' in html  # in the navigation
    rows = re.findall(r'data-alert="(\d+)"', html)
    assert rows == [str(new), str(old)]
    draft = html[html.index(f'data-alert="{new}"') : html.index(f'data-alert="{old}"')]
    assert "Draft for @lead" in draft
    assert "Olga" in draft and "operator" in draft
    assert "message sent" in draft
    assert re.search(r'data-testid="delivery-action">approved<', draft)
    assert "Ops" in draft and "silenced" in draft
    assert "nobody: no chat is subscribed to it" in html[html.index(f'data-alert="{old}"') :]


async def test_the_alert_log_filters_and_pages_to_older_alerts(panel: Panel) -> None:
    old, new = await seed_log(panel.db)
    for n in range(50):  # a full page of newer API alerts
        await store_alert(panel.db, title=f"api {n}", fingerprint=f"f{n}", created_at=NOW)
    browser = await panel.browser(Role.viewer)
    first = (await browser.get("/alerts")).text
    assert len(re.findall(r'data-alert="\d+"', first)) == 50
    older = re.search(r'href="(/alerts\?before=\d+)" data-testid="older"', first)
    assert older is not None
    second = (await browser.get(older.group(1))).text
    assert re.findall(r'data-alert="(\d+)"', second) == [str(new), str(old)]
    resolved = (await browser.get("/alerts", params={"state": "resolved"})).text
    assert re.findall(r'data-alert="(\d+)"', resolved) == [str(old)]
    drafts = (await browser.get("/alerts", params={"kind": "draft.pending"})).text
    assert re.findall(r'data-alert="(\d+)"', drafts) == [str(new)]
    by_print = (await browser.get("/alerts", params={"fingerprint": "old"})).text
    assert re.findall(r'data-alert="(\d+)"', by_print) == [str(old)]
    since = (NOW - timedelta(days=1)).date().isoformat()
    recent = (await browser.get("/alerts", params={"since": since, "kind": "alert"})).text
    assert str(old) not in re.findall(r'data-alert="(\d+)"', recent)
    nothing = (await browser.get("/alerts", params={"fingerprint": "none"})).text
    assert "No alert matches these filters." in nothing


async def test_the_chats_that_get_alerts_are_listed_with_their_subscriptions(
    panel: Panel,
) -> None:
    await seed_log(panel.db)
    html = (await (await panel.browser(Role.viewer)).get("/alerts")).text
    chats = html[html.index('id="recipients"') :]
    assert "send /settings to the bot" in chats
    ops = re.search(r'data-recipient="\d+">(.*?)</tr>', chats[chats.index("Ops") - 200 :], re.S)
    assert ops is not None
    assert "drafts" in ops.group(1)  # its kinds
    assert "Olga" in chats and "operator" in chats


async def test_linking_telegram_shows_a_code_the_bot_accepts(panel: Panel) -> None:
    browser = await panel.browser(Role.operator)
    page = await browser.get("/me/telegram")
    assert "No Telegram account is linked." in page.text
    assert "Get a link code" in page.text
    issued = await browser.post("/me/telegram/code")
    assert issued.status_code == 200
    sent = re.search(r'value="/start ([A-Za-z0-9_-]+)"', issued.text)
    assert sent is not None
    app = panel.transport.app
    assert isinstance(app, FastAPI)
    code = read_code(app.state.box, sent.group(1))
    assert code.user_id == await user_id(panel.db, "operator")
    assert timedelta(minutes=14) < code.expires_at - datetime.now(UTC) <= timedelta(minutes=15)
    assert "15 minutes" in issued.text
    assert await audited(panel.db, "telegram_link_code") == [("operator", {"target": "operator"})]


async def test_unlinking_tells_the_notifier_and_is_audited(panel: Panel) -> None:
    await link(panel.db, "operator")
    browser = await panel.browser(Role.operator)
    page = (await browser.get("/me/telegram")).text
    assert "Linked to Olga K since" in page
    done = await browser.post("/me/telegram/unlink")
    assert done.status_code == 200
    assert "Unlinked" in done.text
    assert "Olga K is being unlinked." in done.text  # until the notifier reads the event
    assert 'hx-post="/me/telegram/unlink"' not in done.text
    operator = await user_id(panel.db, "operator")
    assert await unlinks(panel.db) == [{"user_id": operator, "by": "operator"}]
    assert await audited(panel.db, "telegram_unlinked") == [("operator", {"target": "operator"})]


async def test_an_owner_unlinks_anyone_from_the_users_page_and_no_one_else_may(
    panel: Panel,
) -> None:
    await link(panel.db, "operator")
    owner = await panel.browser(Role.owner)
    users = (await owner.get("/users")).text
    assert 'href="/users/operator/telegram"' in users
    theirs = (await owner.get("/users/operator/telegram")).text
    assert "Telegram of operator" in theirs and "Linked to Olga K" in theirs
    assert "Get a link code" not in theirs  # a code links its holder's own account only
    assert (await owner.post("/users/operator/telegram/unlink")).status_code == 200
    operator = await user_id(panel.db, "operator")
    assert await unlinks(panel.db) == [{"user_id": operator, "by": "owner"}]
    admin = await panel.browser(Role.admin)
    assert (await admin.get("/users/operator/telegram")).status_code == 403
    assert (await admin.post("/users/operator/telegram/unlink")).status_code == 403
    assert (await owner.get("/users/nobody/telegram")).status_code == 404
    assert len(await unlinks(panel.db)) == 1


async def test_a_token_that_only_sends_alerts_is_made_from_the_token_page(panel: Panel) -> None:
    browser = await panel.browser(Role.viewer)
    made = await browser.post("/me/tokens", data={"name": "alertmanager", "scope": "alerts"})
    assert made.status_code == 200
    token = re.search(r'value="(ct_[^"]+)"', made.text)
    assert token is not None
    assert re.search(r'data-testid="token-scope"><span[^>]*>alerts only<', made.text)
    am = await panel.browser(Role.viewer)
    am.cookies.clear()
    del am.headers["X-CSRFToken"]
    am.headers["Authorization"] = f"Bearer {token.group(1)}"
    assert (await am.post("/api/v1/alerts", json={"title": "disk"})).status_code == 202
    assert (await am.get("/alerts")).status_code == 403
    wrong = await browser.post("/me/tokens", data={"name": "x", "scope": "root"})
    assert wrong.status_code == 422
    assert "a token&#39;s scope is full or alerts" in wrong.text
