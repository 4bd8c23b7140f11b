"""POST /api/v1/alerts (ours and Alertmanager's payload) and the alert log at GET /api/v1/alerts:
who may send, what reaches the outbox for the notifier, idempotency, field errors by name, and
the log with each recipient's message and action."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import delete, select

from admin.access.deps import endpoints
from core.access import Role
from core.db import Database
from core.db.models import OutboxMessage, User
from core.db.notifier_models import Alert, AlertDelivery, AlertMessage, AlertRecipient
from core.events import Event
from notifier.intake import Intake
from tests.conftest import bearer
from tests.integration.conftest import Panel

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def raised(db: Database) -> list[dict[str, Any]]:
    """The alert.raised payloads waiting in the outbox, oldest first."""
    async with db.session() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        bodies = [json.loads(r.body) for r in rows]
    return [b["payload"] for b in bodies if b["name"] == "alert.raised"]


async def user_id(db: Database, login: str) -> int:
    async with db.session() as session:
        found = await session.scalar(select(User.id).where(User.login == login))
    assert found is not None
    return int(found)


async def store_alert(db: Database, **fields: Any) -> int:
    """An alert as the notifier stores it."""
    values: dict[str, Any] = {
        "kind": "alert",
        "severity": "warning",
        "fingerprint": "fp",
        "subject": "",
        "title": "Disk full",
        "source": "api",
        "created_at": NOW,
        "last_seen_at": NOW,
    }
    values.update(fields)
    async with db.transaction() as session:
        row = Alert(**values)
        session.add(row)
        await session.flush()
        return row.id


def alertmanager(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    return {
        "receiver": "coolthing",
        "status": status,
        "alerts": list(alerts),
        "groupLabels": {"alertname": "DiskFull"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": '{}:{alertname="DiskFull"}',
        "truncatedAlerts": 0,
    }


def am_alert(fingerprint: str, *, status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "DiskFull", "instance": "db1:9100", **labels},
        "annotations": {"summary": "disk /var is 97% full", "description": "Free some space."},
        "startsAt": "2026-12-01T09:52:26.739266876+02:00",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=disk",
        "fingerprint": fingerprint,
    }


async def test_an_operators_token_sends_an_alert_the_notifier_is_given(panel: Panel) -> None:
    answer = await panel.api(Role.operator).post(
        "/alerts",
        json={
            "severity": "critical",
            "title": "Backup failed",
            "text": "exit 2 <oops> & co",
            "link": "https://ci.example.com/job/7",
        },
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["accepted"] is True
    assert body["status_url"] == f"/api/v1/alerts?fingerprint=api:{body['fingerprint']}"
    [event] = await raised(panel.db)
    assert event["source"] == "api"
    assert event["sender_login"] == "operator"
    assert event["sender_user_id"] == await user_id(panel.db, "operator")
    assert (event["severity"], event["title"], event["status"]) == (
        "critical",
        "Backup failed",
        "firing",
    )
    assert event["text"] == "exit 2 <oops> & co"
    assert event["link"] == "https://ci.example.com/job/7"
    assert event["fingerprint"] == body["fingerprint"]
    assert event["idempotency_key"] is None


async def test_the_same_title_is_the_same_condition_unless_a_fingerprint_is_given(
    panel: Panel,
) -> None:
    api = panel.api(Role.operator)
    first = (await api.post("/alerts", json={"title": "Queue stuck"})).json()
    again = (await api.post("/alerts", json={"title": "Queue stuck", "status": "resolved"})).json()
    other = (await api.post("/alerts", json={"title": "Queue stuck", "fingerprint": "q-7"})).json()
    assert first["fingerprint"] == again["fingerprint"] != other["fingerprint"] == "q-7"
    assert [e["status"] for e in await raised(panel.db)] == ["firing", "resolved", "firing"]


async def test_a_repeated_idempotency_key_answers_with_the_alert_it_made(panel: Panel) -> None:
    api = panel.api(Role.operator)
    sent = await api.post("/alerts", json={"title": "Nightly"}, headers={"Idempotency-Key": "n-1"})
    assert sent.status_code == 202
    [event] = await raised(panel.db)
    operator = await user_id(panel.db, "operator")
    assert event["idempotency_key"] == f"{operator}:n-1"
    # the notifier stored it under that key
    made = await store_alert(panel.db, idempotency_key=event["idempotency_key"])
    repeat = await api.post(
        "/alerts", json={"title": "Nightly"}, headers={"Idempotency-Key": "n-1"}
    )
    assert repeat.status_code == 200
    assert repeat.json() == {"alert_id": made, "duplicate": True}
    assert len(await raised(panel.db)) == 1
    # the key is the sender's: another user's same key is another alert
    theirs = await panel.api(Role.admin).post(
        "/alerts", json={"title": "Nightly"}, headers={"Idempotency-Key": "n-1"}
    )
    assert theirs.status_code == 202
    assert len(await raised(panel.db)) == 2


async def test_a_key_of_the_longest_length_is_kept_as_its_hash_and_still_deduplicates(
    panel: Panel,
) -> None:
    api = panel.api(Role.operator)
    key = {"Idempotency-Key": "k" * 200}
    assert (await api.post("/alerts", json={"title": "long"}, headers=key)).status_code == 202
    [event] = await raised(panel.db)
    assert len(event["idempotency_key"]) <= 200
    made = await store_alert(panel.db, idempotency_key=event["idempotency_key"])
    again = await api.post("/alerts", json={"title": "long"}, headers=key)
    assert again.json() == {"alert_id": made, "duplicate": True}


async def test_bad_fields_are_named_with_a_reason_and_nothing_is_sent(panel: Panel) -> None:
    api = panel.api(Role.operator)
    answer = await api.post(
        "/alerts",
        json={
            "title": "  ",
            "severity": "fatal",
            "link": "javascript:alert(1)",
            "text": "x" * 8001,
        },
    )
    assert answer.status_code == 422
    reasons = {e["field"]: e["reason"] for e in answer.json()["detail"]}
    assert set(reasons) == {"title", "severity", "link", "text"}
    assert reasons["title"] == "must not be blank"
    assert "http://" in reasons["link"]
    unknown = await api.post("/alerts", json={"title": "x", "colour": "red"})
    assert unknown.json()["detail"][0]["field"] == "colour"
    broken = await api.post(
        "/alerts", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    assert broken.json()["detail"][0]["field"] == "body"
    bad_key = await api.post("/alerts", json={"title": "x"}, headers={"Idempotency-Key": "a" * 201})
    assert bad_key.status_code == 422
    assert bad_key.json()["detail"][0]["field"] == "Idempotency-Key"
    assert await raised(panel.db) == []


async def test_who_may_send_alerts(panel: Panel) -> None:
    body = {"title": "x"}
    viewer = await panel.api(Role.viewer).post("/alerts", json=body)
    assert viewer.status_code == 403
    assert "scope alerts" in viewer.json()["detail"]
    nobody = await panel.api(Role.operator).post(
        "/alerts", json=body, headers=bearer("ct_not-a-token")
    )
    assert nobody.status_code == 401
    signed_in = await panel.browser(Role.operator)
    assert (await signed_in.post("/api/v1/alerts", json=body)).status_code == 202
    without_csrf = await panel.browser(Role.operator)
    del without_csrf.headers["X-CSRFToken"]
    assert (await without_csrf.post("/api/v1/alerts", json=body)).status_code == 403
    assert len(await raised(panel.db)) == 1


async def test_an_alerts_token_sends_alerts_and_nothing_else(panel: Panel) -> None:
    made = await panel.api(Role.viewer).post(
        "/auth/tokens", json={"name": "alertmanager", "scope": "alerts"}
    )
    assert made.status_code == 201, made.text
    assert made.json()["scope"] == "alerts"
    am = httpx.AsyncClient(
        transport=panel.transport,
        base_url="http://127.0.0.1",
        headers=bearer(made.json()["token"]),
    )
    panel.opened.append(am)
    # a viewer's alerts token sends alerts: the scope, not the role, is what it is for
    assert (await am.post("/api/v1/alerts", json={"title": "from am"})).status_code == 202
    for path in ("/api/v1/leads", "/api/v1/alerts", "/api/v1/auth/me", "/api/v1/auth/tokens", "/"):
        refused = await am.get(path)
        assert refused.status_code == 403, path
        if path.startswith("/api"):
            assert refused.json()["detail"].startswith("this token may only send alerts")
    listed = await panel.api(Role.viewer).get("/auth/tokens")
    assert sorted(t["scope"] for t in listed.json()) == ["alerts", "full"]


async def test_an_alerts_token_is_refused_by_every_other_route(panel: Panel) -> None:
    made = await panel.api(Role.owner).post("/auth/tokens", json={"name": "am", "scope": "alerts"})
    app = panel.transport.app
    assert isinstance(app, FastAPI)
    am = httpx.AsyncClient(
        transport=panel.transport, base_url="http://127.0.0.1", headers=bearer(made.json()["token"])
    )
    panel.opened.append(am)
    let_through: list[str] = []
    checked = 0
    for endpoint in endpoints(app):
        if endpoint.access in ("public", "metrics") or not endpoint.access:
            continue  # open to everyone, or Prometheus's own rule (loopback, the metrics token)
        if endpoint.access.startswith("public"):  # the static files
            continue
        path = re.sub(r"\{[^}]+\}", "1", endpoint.path)
        for method in endpoint.methods - {"HEAD"}:
            answer = await am.request(method, path)
            checked += 1
            if answer.status_code != 403 and (method, endpoint.path) != ("POST", "/api/v1/alerts"):
                let_through.append(f"{method} {endpoint.path}: {answer.status_code}")
    assert checked > 100
    assert let_through == []


async def test_an_alertmanager_group_becomes_one_alert_each(panel: Panel) -> None:
    api = panel.api(Role.operator)
    payload = alertmanager(
        am_alert("a1", severity="page"),
        am_alert("a2", severity="warning"),
        am_alert("a3", severity="whatever"),
    )
    answer = await api.post("/alerts", json=payload)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"accepted": 3, "duplicates": 0, "fingerprints": ["a1", "a2", "a3"]}
    events = await raised(panel.db)
    assert [e["severity"] for e in events] == ["critical", "warning", "warning"]
    first = events[0]
    assert first["source"] == "alertmanager"
    assert first["title"] == "DiskFull: disk /var is 97% full"
    assert first["text"] == "Free some space."
    assert first["link"] == "http://prometheus:9090/graph?g0.expr=disk"
    operator = await user_id(panel.db, "operator")
    assert first["idempotency_key"] == (f"{operator}:am:a1:2026-12-01T07:52:26.739266+00:00:firing")


async def test_alertmanager_repeating_a_group_makes_no_new_alerts_but_a_resolution_does(
    panel: Panel,
) -> None:
    api = panel.api(Role.operator)
    await api.post("/alerts", json=alertmanager(am_alert("a1"), am_alert("a2")))
    for event in await raised(panel.db):  # the notifier stored both
        await store_alert(
            panel.db,
            fingerprint=event["fingerprint"],
            source="alertmanager",
            idempotency_key=event["idempotency_key"],
        )
    repeat = await api.post("/alerts", json=alertmanager(am_alert("a1"), am_alert("a2")))
    assert repeat.json() == {"accepted": 0, "duplicates": 2, "fingerprints": []}
    resolved = await api.post(
        "/alerts", json=alertmanager(am_alert("a1", status="resolved"), status="resolved")
    )
    assert resolved.json()["accepted"] == 1
    events = await raised(panel.db)
    assert [(e["fingerprint"], e["status"]) for e in events] == [
        ("a1", "firing"),
        ("a2", "firing"),
        ("a1", "resolved"),
    ]


async def test_a_malformed_alertmanager_payload_names_the_field(panel: Panel) -> None:
    broken = am_alert("a3")
    del broken["labels"]["alertname"]
    payload = alertmanager(am_alert("a1"), am_alert("a2"), broken)
    answer = await panel.api(Role.operator).post("/alerts", json=payload)
    assert answer.status_code == 422
    assert answer.json()["detail"] == [
        {"field": "alerts.2.labels.alertname", "reason": "Field required"}
    ]
    payload = alertmanager(am_alert("a1"))
    payload["version"] = "5"
    answer = await panel.api(Role.operator).post("/alerts", json=payload)
    assert answer.json()["detail"][0]["field"] == "version"
    assert await raised(panel.db) == []


async def seed_log(db: Database) -> tuple[int, int]:
    """Two alerts: an old resolved one to nobody, a draft alert delivered to a user's chat (who
    approved it) and silenced in a group."""
    operator = await user_id(db, "operator")
    old = await store_alert(
        db, state="resolved", fingerprint="old", created_at=NOW - timedelta(days=2)
    )
    new = await store_alert(
        db,
        kind="draft.pending",
        fingerprint="draft:5",
        title="Draft for @lead",
        state="handled",
        outcome="approved",
        handled_by="operator",
        source="event",
    )
    async with db.transaction() as session:
        mine = AlertRecipient(
            chat_id=501, kind="user", user_id=operator, title="Olga", created_at=NOW
        )
        group = AlertRecipient(
            chat_id=-100, kind="group", title="Ops", kinds=["drafts"], created_at=NOW
        )
        session.add_all([mine, group])
        await session.flush()
        message = AlertMessage(
            recipient_id=mine.id,
            chat_id=501,
            group_key="draft:5",
            state="sent",
            due_at=NOW,
            closes_at=NOW,
            created_at=NOW,
            sent_at=NOW + timedelta(seconds=1),
        )
        session.add(message)
        await session.flush()
        session.add_all(
            [
                AlertDelivery(
                    alert_id=new,
                    recipient_id=mine.id,
                    message_id=message.id,
                    status="queued",
                    action="approved",
                    acted_at=NOW + timedelta(minutes=2),
                    created_at=NOW,
                ),
                AlertDelivery(
                    alert_id=new, recipient_id=group.id, status="silenced", created_at=NOW
                ),
            ]
        )
    return old, new


async def test_the_alert_log_shows_each_recipient_and_what_they_did(panel: Panel) -> None:
    old, new = await seed_log(panel.db)
    api = panel.api(Role.viewer)
    log = (await api.get("/alerts")).json()
    assert [a["id"] for a in log["items"]] == [new, old]
    assert log["next_before"] is None
    draft = log["items"][0]
    assert (draft["kind"], draft["state"], draft["outcome"]) == (
        "draft.pending",
        "handled",
        "approved",
    )
    olga, ops = draft["deliveries"]
    assert (olga["recipient"], olga["recipient_kind"], olga["login"]) == (
        "Olga",
        "user",
        "operator",
    )
    assert (olga["status"], olga["message_state"], olga["action"]) == ("queued", "sent", "approved")
    assert olga["message_at"].startswith("2026-12-01T12:00:01")
    assert olga["acted_at"].startswith("2026-12-01T12:02:00")
    assert (ops["recipient_kind"], ops["status"], ops["message_state"]) == (
        "group",
        "silenced",
        None,
    )
    assert (await api.get(f"/alerts/{new}")).json() == draft
    assert (await api.get("/alerts/999999")).status_code == 404


async def test_the_alert_log_filters_and_pages(panel: Panel) -> None:
    old, new = await seed_log(panel.db)
    api = panel.api(Role.viewer)

    async def ids(**query: Any) -> list[int]:
        answer = await api.get("/alerts", params=query)
        assert answer.status_code == 200, answer.text
        return [a["id"] for a in answer.json()["items"]]

    assert await ids(kind="draft.pending") == [new]
    assert await ids(state="resolved") == [old]
    assert await ids(fingerprint="old") == [old]
    assert await ids(since=(NOW - timedelta(hours=1)).isoformat()) == [new]
    first = (await api.get("/alerts", params={"limit": 1})).json()
    assert [a["id"] for a in first["items"]] == [new]
    assert first["next_before"] == new
    assert await ids(limit=1, before=first["next_before"]) == [old]
    assert (await api.get("/alerts", params={"limit": 201})).status_code == 422
    assert (await api.get("/alerts", params={"state": "lost"})).status_code == 422


async def notifier_reads_the_outbox(db: Database) -> None:
    """The notifier's intake takes every alert.raised waiting in the outbox, as from the bus."""
    intake = Intake(
        db, repeat=timedelta(hours=4), group_window=timedelta(seconds=30), wake=lambda: None
    )
    async with db.session() as session:
        rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    for row in rows:
        event = Event.model_validate_json(row.body)
        if event.name == "alert.raised":
            await intake.on_event(event)
    async with db.transaction() as session:
        await session.execute(delete(OutboxMessage))


async def test_what_the_notifier_stored_is_what_the_log_shows_and_repeats_find_it(
    panel: Panel,
) -> None:
    api = panel.api(Role.operator)
    key = {"Idempotency-Key": "deploy-41"}
    body = {"title": "Deploy failed", "severity": "critical", "text": "step 3 <b>broke</b>"}
    sent = await api.post("/alerts", json=body, headers=key)
    assert sent.status_code == 202
    await notifier_reads_the_outbox(panel.db)
    [alert] = (await api.get("/alerts")).json()["items"]
    assert (alert["title"], alert["severity"], alert["state"]) == (
        "Deploy failed",
        "critical",
        "firing",
    )
    # the answer's status_url finds it
    shown = (await api.get(sent.json()["status_url"].removeprefix("/api/v1"))).json()["items"]
    assert [a["id"] for a in shown] == [alert["id"]]
    assert (alert["source"], alert["sender"], alert["text"]) == (
        "api",
        "operator",
        "step 3 <b>broke</b>",
    )
    again = await api.post("/alerts", json=body, headers=key)
    assert again.json() == {"alert_id": alert["id"], "duplicate": True}
    am = alertmanager(am_alert("a1"))
    assert (await api.post("/alerts", json=am)).json()["accepted"] == 1
    await notifier_reads_the_outbox(panel.db)
    assert (await api.post("/alerts", json=am)).json() == {
        "accepted": 0,
        "duplicates": 1,
        "fingerprints": [],
    }
    resolved = alertmanager(am_alert("a1", status="resolved"), status="resolved")
    assert (await api.post("/alerts", json=resolved)).json()["accepted"] == 1
    await notifier_reads_the_outbox(panel.db)
    [firing] = (await api.get("/alerts", params={"state": "firing"})).json()["items"]
    assert firing["id"] == alert["id"]
    [settled] = (await api.get("/alerts", params={"fingerprint": "alertmanager:a1"})).json()[
        "items"
    ]
    assert settled["state"] == "resolved"
    assert settled["title"] == "DiskFull: disk /var is 97% full"


async def test_a_control_character_in_the_logs_filter_is_refused_by_name(panel: Panel) -> None:
    api = panel.api(Role.viewer)
    for field in ("fingerprint", "kind"):
        answer = await api.get("/alerts", params={field: "api:disk\x00full"})
        assert answer.status_code == 422, answer.text
        [problem] = answer.json()["detail"]
        assert problem["field"] == field and "control" in problem["reason"]
