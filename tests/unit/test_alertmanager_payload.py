"""Reading POST /api/v1/alerts bodies: Prometheus Alertmanager's webhook payload into one
alert.raised per alert (title, text, severity, link, fingerprint, an idempotency key that makes
a repeated group no new alert), our own alert, and the field named when either is wrong."""

from __future__ import annotations

import json
from typing import Any

import pytest

from admin.api.alertmanager import (
    AlertCreate,
    AlertmanagerWebhook,
    PayloadInvalid,
    am_alerts,
    api_alert,
    read_body,
    request_schema,
    severity_of,
)


def am_alert(**over: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "status": "firing",
        "labels": {
            "alertname": "ProbeFailure",
            "instance": "https://a.example",
            "severity": "critical",
        },
        "annotations": {"summary": "Probe failed", "description": "Down for over 5m."},
        "startsAt": "2023-02-06T13:08:45.828Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0",
        "fingerprint": "1a30ba71cca2921f",
    }
    alert.update(over)
    return alert


def payload(*alerts: dict[str, Any], **over: Any) -> bytes:
    body: dict[str, Any] = {
        "receiver": "sms",
        "status": "firing",
        "alerts": list(alerts),
        "groupLabels": {"alertname": "ProbeFailure"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://prometheus.example.org:9093",
        "version": "4",
        "groupKey": '{}/{severity="critical"}:{alertname="ProbeFailure"}',
        "truncatedAlerts": 0,
    }
    body.update(over)
    return json.dumps(body).encode()


def events(raw: bytes, user_id: int = 7) -> list[Any]:
    body = read_body(raw)
    assert isinstance(body, AlertmanagerWebhook)
    return am_alerts(body, user_id=user_id, login="am")


def errors(raw: bytes) -> list[dict[str, str]]:
    with pytest.raises(PayloadInvalid) as refused:
        read_body(raw)
    return refused.value.errors


def test_an_alert_of_a_group_reads_as_title_text_severity_link_and_fingerprint() -> None:
    [event] = events(payload(am_alert()))
    assert event.source == "alertmanager"
    assert (event.sender_user_id, event.sender_login) == (7, "am")
    assert event.title == "ProbeFailure: Probe failed"
    assert event.text == "Down for over 5m."
    assert event.severity == "critical"
    assert event.status == "firing"
    assert event.fingerprint == "1a30ba71cca2921f"
    assert event.link is not None and event.link.startswith("http://prometheus.example.org:9090/")


@pytest.mark.parametrize(
    ("label", "ours"),
    [
        ("critical", "critical"),
        ("Page", "critical"),
        ("error", "critical"),
        ("warning", "warning"),
        ("warn", "warning"),
        ("info", "info"),
        ("none", "info"),
        ("P3", "warning"),
        (None, "warning"),
    ],
)
def test_severity_labels_map_onto_ours_and_anything_else_is_a_warning(
    label: str | None, ours: str
) -> None:
    assert severity_of(label) == ours


def test_a_group_resent_every_repeat_interval_keeps_its_keys() -> None:
    first = events(payload(am_alert(), am_alert(fingerprint="2b")))
    again = events(payload(am_alert(), am_alert(fingerprint="2b")))
    keys = [e.idempotency_key for e in first]
    assert keys == [e.idempotency_key for e in again]
    assert len(set(keys)) == 2
    assert keys[0] == "7:am:1a30ba71cca2921f:2023-02-06T13:08:45.828000+00:00:firing"


def test_a_resolution_or_a_new_firing_is_a_new_key_and_another_sender_too() -> None:
    [firing] = events(payload(am_alert()))
    [resolved] = events(payload(am_alert(status="resolved"), status="resolved"))
    [later] = events(payload(am_alert(startsAt="2023-02-07T08:00:00Z")))
    [theirs] = events(payload(am_alert()), user_id=8)
    keys = {e.idempotency_key for e in (firing, resolved, later, theirs)}
    assert len(keys) == 4
    assert resolved.status == "resolved"
    assert resolved.fingerprint == firing.fingerprint  # it settles the same alert


def test_the_same_start_written_with_another_offset_is_the_same_alert() -> None:
    [utc] = events(payload(am_alert(startsAt="2023-02-06T13:08:45Z")))
    [local] = events(payload(am_alert(startsAt="2023-02-06T15:08:45+02:00")))
    assert utc.idempotency_key == local.idempotency_key


def test_without_a_fingerprint_the_label_set_identifies_the_alert() -> None:
    labels = {"alertname": "Disk", "instance": "db1", "mount": "/var"}
    shuffled = {"mount": "/var", "instance": "db1", "alertname": "Disk"}
    [a] = events(payload(am_alert(fingerprint=None, labels=labels)))
    [b] = events(payload(am_alert(fingerprint=None, labels=shuffled)))
    [c] = events(payload(am_alert(fingerprint=None, labels={**labels, "mount": "/home"})))
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_long_texts_are_cut_to_what_the_notifier_keeps_and_titles_stay_one_line() -> None:
    long = am_alert(
        labels={"alertname": "X"},
        annotations={"summary": "line one\n  line two " + "s" * 400, "description": "d" * 9000},
        fingerprint="f" * 160,
    )
    [event] = events(payload(long))
    assert event.title.startswith("X: line one line two s")
    assert len(event.title) == 256 and event.title.endswith("…")
    assert len(event.text) == 8000
    assert event.idempotency_key is not None and len(event.idempotency_key) <= 200


def test_a_missing_summary_description_or_usable_link_is_left_out() -> None:
    bare = am_alert(annotations={}, generatorURL="", labels={"alertname": "Bare"})
    odd = am_alert(generatorURL="javascript:alert(1)")
    [plain, weird] = events(payload(bare, odd))
    assert (plain.title, plain.text, plain.link, plain.severity) == ("Bare", "", None, "warning")
    assert weird.link is None


def test_characters_text_cannot_hold_are_replaced_not_stored_or_refused() -> None:
    # PostgreSQL text holds no NUL and no half of a surrogate pair: the CI's contract run sent both.
    odd = am_alert(
        fingerprint="\x15\x87\x00X",
        annotations={"summary": "half \ud8c9 pair", "description": "nul \x00 here"},
        generatorURL="http://a.example/\udc00",
    )
    [event] = events(payload(odd))
    stored = [event.fingerprint, event.title, event.text, event.link or "", event.idempotency_key]
    assert not any(c == "\x00" or "\ud800" <= c <= "\udfff" for text in stored for c in text)
    assert (event.title, event.text) == ("ProbeFailure: half \ufffd pair", "nul \ufffd here")


def test_a_wrong_alert_in_a_group_is_named_by_its_place() -> None:
    broken = am_alert(labels={"instance": "x"})
    found = errors(payload(am_alert(), am_alert(), broken))
    assert found == [{"field": "alerts.2.labels.alertname", "reason": "Field required"}]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"version": "5"}, "version"),
        ({"status": "pending"}, "status"),
        ({"alerts": [am_alert(startsAt=0)]}, "alerts.0.startsAt"),
        ({"alerts": [am_alert(startsAt="yesterday")]}, "alerts.0.startsAt"),
        ({"alerts": [am_alert(status="firing!")]}, "alerts.0.status"),
        ({"alerts": [am_alert(labels={"alertname": "A", "n": 3})]}, "alerts.0.labels.n"),
    ],
)
def test_a_malformed_payload_names_the_field(change: dict[str, Any], field: str) -> None:
    found = errors(payload(am_alert(), **change))
    assert [e["field"] for e in found] == [field]
    assert all(e["reason"] for e in found)


def test_our_own_alert_gets_the_titles_fingerprint_and_the_senders_key() -> None:
    body = read_body(b'{"title": "Backup failed", "severity": "critical"}')
    assert isinstance(body, AlertCreate)
    event = api_alert(body, user_id=3, login="ops", key="run-41")
    same = api_alert(AlertCreate(title=" backup FAILED "), user_id=3, login="ops", key=None)
    assert event.fingerprint == same.fingerprint
    assert event.idempotency_key == "3:run-41"
    assert same.idempotency_key is None
    assert (event.source, event.status, event.text, event.link) == ("api", "firing", "", None)


def test_our_alert_refuses_what_it_does_not_know_and_bad_json() -> None:
    assert [e["field"] for e in errors(b'{"title": "x", "labels": {}}')] == ["labels"]
    assert [e["field"] for e in errors(b'{"title": "x"')] == ["body"]
    assert errors(b'["title"]') == [
        {"field": "body", "reason": "a JSON object: an alert, or Alertmanager's webhook payload"}
    ]


def test_the_documented_body_is_either_shape_with_nothing_left_to_resolve() -> None:
    schema = request_schema()
    assert len(schema["oneOf"]) == 2
    assert "$ref" not in json.dumps(schema)
    alertmanager = schema["oneOf"][1]
    assert alertmanager["required"] == ["version", "status", "alerts"]
