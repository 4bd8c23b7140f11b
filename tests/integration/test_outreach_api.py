"""The operator's side of outreach through the real API: drafts approved, edited or rejected,
conversations taken over and written by hand, dialogues and usage read back; bad input gets
404/409/422 with a reason, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from admin.workspace.apply import apply_workspace, read_workspace
from core.access import Role
from core.db import Database
from core.db.models import Account, AuditEntry, ConversationMessage
from core.security import SecretBox
from tests.conftest import add_people, admin_app, bearer
from tests.integration.conftest import World, workspace


@pytest.fixture
async def world(database: Database, secret_box: SecretBox, tmp_path: Path) -> World:
    path = tmp_path / "ws.yaml"
    path.write_text(workspace(", approval: true"), encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    return World(database)


@pytest.fixture
async def api(world: World) -> AsyncIterator[httpx.AsyncClient]:
    """The API as the operator "operator" uses it, with the manager serving its commands."""
    tokens = await add_people(world.db)
    await world.serve_operator_commands()
    app = admin_app(world.db, world.bus)
    app.exception_handlers.pop(Exception)  # a 500 fails the test loudly
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://127.0.0.1/api/v1",
        headers=bearer(tokens[Role.operator]),
    ) as http:
        yield http
    await world.bus.close()


async def _draft_of(api: httpx.AsyncClient, user: int) -> int:
    drafts = (await api.get("/drafts")).json()["items"]
    for draft in drafts:
        conversation = (await api.get(f"/conversations/{draft['conversation_id']}")).json()
        if conversation["telegram_user_id"] == user:
            return int(draft["id"])
    raise AssertionError(f"no draft for user {user}")


async def test_an_edited_approval_is_what_gets_sent_and_only_once(
    world: World, api: httpx.AsyncClient
) -> None:
    await world.conversations.on_lead(await world.lead(user=601))
    draft = await _draft_of(api, 601)
    assert await world.dispatcher.dispatch_due() == 0, "nothing goes before approval"

    edited = "Добрый день! Делаем сайты за месяц. Удобно созвониться?"
    response = await api.post(f"/drafts/{draft}/approve", json={"text": edited})
    assert response.status_code == 200, response.text
    assert response.json()["approved_by"] == "operator"
    assert await world.dispatcher.dispatch_due() == 1
    [(_, command)] = await world.events("command.send")
    assert command["text"] == edited

    again = await api.post(f"/drafts/{draft}/approve", json={})
    assert again.status_code == 409
    assert "already approved by operator at 20" in again.json()["detail"]
    assert (await api.post("/drafts/99999/approve", json={})).status_code == 404
    [message] = (await api.get("/conversations/1")).json()["messages"]
    assert message["approved_by"] == "operator" and message["text"] == edited


async def test_a_rejected_draft_never_goes_and_frees_the_person_for_other_campaigns(
    world: World, api: httpx.AsyncClient
) -> None:
    await world.conversations.on_lead(await world.lead(user=602))
    draft = await _draft_of(api, 602)
    response = await api.post(f"/drafts/{draft}/reject", json={"reason": "spam"})
    assert response.status_code == 204, response.text
    assert await world.dispatcher.dispatch_due() == 0
    [conversation] = await world.conversations_of(602)
    assert conversation.status == "rejected" and conversation.reason == "spam"

    await world.conversations.on_lead(await world.lead(user=602, campaign=2))
    assert [c.status for c in await world.conversations_of(602)] == ["rejected", "active"]


async def test_takeover_stops_the_machine_and_the_operator_writes_by_hand(
    world: World, api: httpx.AsyncClient
) -> None:
    await world.conversations.on_lead(await world.lead(user=603))
    [conversation] = await world.conversations_of(603)
    early = await api.post(f"/conversations/{conversation.id}/messages", json={"text": "Hi"})
    assert early.status_code == 409 and "take the conversation over" in early.json()["detail"]

    response = await api.post(f"/conversations/{conversation.id}/takeover", json={})
    assert response.status_code == 204, response.text
    [(_, handoff)] = await world.events("conversation.handoff")
    assert handoff["by"] == "operator"
    detail = (await api.get(f"/conversations/{conversation.id}")).json()
    assert detail["status"] == "handoff"
    assert detail["messages"][0]["status"] == "cancelled", "the pending draft will not go"

    text = "Это Алиса, менеджер. Чем могу помочь?"
    manual = await api.post(f"/conversations/{conversation.id}/messages", json={"text": text})
    assert manual.status_code == 200, manual.text
    assert await world.dispatcher.dispatch_due() == 1
    [(_, command)] = await world.events("command.send")
    assert command["text"] == text


async def test_bad_operator_input_is_named(api: httpx.AsyncClient) -> None:
    missing = await api.post("/conversations/12345/takeover", json={})
    assert missing.status_code == 404 and "12345" in missing.json()["detail"]
    typo = await api.post("/drafts/1/approve", json={"txt": "hello"})
    assert typo.status_code == 422
    assert typo.json()["detail"][0]["field"] == "txt"
    bad_status = await api.get("/conversations", params={"status": "sleeping"})
    assert bad_status.status_code == 422
    assert bad_status.json()["detail"][0]["field"] == "status"
    assert (await api.get("/conversations/777")).status_code == 404


async def test_usage_counts_conversations_drafts_and_sends(
    world: World, api: httpx.AsyncClient
) -> None:
    for user in (604, 605):
        await world.conversations.on_lead(await world.lead(user=user))
    usage = (await api.get("/campaigns/1/outreach")).json()
    assert usage["conversations"] == {"awaiting_approval": 2}
    assert usage["drafts_pending"] == 2 and usage["messages_sent"] == 0
    assert (await api.get("/campaigns/99/outreach")).status_code == 404


async def test_an_edit_is_checked_like_a_draft_and_an_override_is_audited(
    world: World, api: httpx.AsyncClient
) -> None:
    await world.conversations.on_lead(await world.lead(user=606))
    draft = await _draft_of(api, 606)
    phishing = "Оплатите заказ картой по ссылке https://pay.evil.click/x — это быстро!"
    held = await api.post(f"/drafts/{draft}/approve", json={"text": phishing})
    assert held.status_code == 422, held.text
    problems = [(e["field"], e["reason"]) for e in held.json()["detail"]]
    said = " | ".join(reason for field, reason in problems if field == "text")
    assert "pay.evil.click" in said and "asks the lead to pay" in said, said
    assert "override_checks" in {field for field, _ in problems}
    assert await world.dispatcher.dispatch_due() == 0, "nothing goes while the check fails"

    sent = await api.post(
        f"/drafts/{draft}/approve", json={"text": phishing, "override_checks": True}
    )
    assert sent.status_code == 200, sent.text
    assert await world.dispatcher.dispatch_due() == 1
    async with world.db.session() as session:
        message = await session.get(ConversationMessage, draft)
        actions = list(
            await session.scalars(select(AuditEntry.action).where(AuditEntry.message_id == draft))
        )
    assert message is not None and message.text == phishing
    assert message.draft_text and message.draft_text != phishing, "the model's draft is kept"
    shown = (await api.get(f"/conversations/{message.conversation_id}")).json()["messages"][0]
    assert (shown["text"], shown["draft_text"]) == (phishing, message.draft_text)
    assert shown["decided_by"] == "operator" and shown["decided_at"].endswith("Z")
    assert actions[-2:] == ["checks_overridden", "edited_and_approved"]


async def test_a_draft_for_someone_who_opted_out_meanwhile_is_refused_with_the_reason(
    world: World, api: httpx.AsyncClient
) -> None:
    await world.conversations.on_lead(await world.lead(user=607))
    draft = await _draft_of(api, 607)
    added = await api.post("/do-not-contact", json={"telegram_user_id": 607, "reason": "asked"})
    assert added.status_code == 204, added.text
    [(_, announced)] = await world.events("contact.opted_out")
    assert announced["telegram_user_id"] == 607 and announced["reason"] == "asked"
    refused = await api.post(f"/drafts/{draft}/approve", json={})
    assert refused.status_code == 409
    assert "cancelled" in refused.json()["detail"]
    listed = (await api.get("/do-not-contact")).json()
    assert [c["telegram_user_id"] for c in listed["items"]] == [607]
    assert (await api.delete("/do-not-contact/607")).status_code == 204
    assert (await api.delete("/do-not-contact/607")).status_code == 404
    assert (await api.get("/do-not-contact")).json()["total"] == 0


async def test_a_banned_account_refuses_a_send_with_the_reason(
    world: World, api: httpx.AsyncClient
) -> None:
    await world.conversations.on_lead(await world.lead(user=608))
    draft = await _draft_of(api, 608)
    [conversation] = await world.conversations_of(608)
    async with world.db.transaction() as session:
        await session.execute(
            update(Account)
            .where(Account.id == conversation.account_id)
            .values(status="banned", status_reason="USER_DEACTIVATED_BAN")
        )
    refused = await api.post(f"/drafts/{draft}/approve", json={})
    assert refused.status_code == 409
    assert "is banned (USER_DEACTIVATED_BAN)" in refused.json()["detail"]


async def test_a_conversation_handed_back_is_answered_by_automation_again(
    world: World, api: httpx.AsyncClient
) -> None:
    await world.conversations.on_lead(await world.lead(user=609))
    [conversation] = await world.conversations_of(609)
    path = f"/conversations/{conversation.id}"
    early = await api.post(f"{path}/handback", json={})
    assert early.status_code == 409 and "not with a person" in early.json()["detail"]
    assert (await api.post(f"{path}/takeover", json={})).status_code == 204
    again = await api.post(f"{path}/takeover", json={})
    assert again.status_code == 409 and "taken over by operator" in again.json()["detail"]
    assert (await api.post(f"{path}/handback", json={})).status_code == 204
    detail = (await api.get(path)).json()
    assert detail["status"] == "active" and detail["reason"] == "handed back by operator"
