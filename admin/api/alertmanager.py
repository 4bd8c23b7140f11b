"""What ``POST /api/v1/alerts`` accepts: our own alert, or Prometheus Alertmanager's webhook
payload (``version: "4"``), each read into the ``alert.raised`` events the notifier takes.

Alertmanager posts a whole group (``alerts: [{status, labels, annotations, startsAt, endsAt,
generatorURL, fingerprint}]``) and posts it again every ``repeat_interval`` while it fires; each
alert's idempotency key is built from its fingerprint, start and status, so a repeat makes no new
alert and the resolution of the same alert does.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from admin.api.fields import MessageText, Name, RFC3339Time
from core.events import AlertRaised, Severity

TITLE_MAX = 256
TEXT_MAX = 8000
LINK_MAX = 1024
KEY_MAX = 200  # alerts.idempotency_key
AM_ALERTS_MAX = 1000  # one request; Alertmanager's max_alerts can keep a group under it

# http or https, a host, no spaces, quotes, angle brackets or controls (the link goes into HTML).
_LINK = r'^https?://[^\s/<>"\x00-\x1f\x7f][^\s<>"\x00-\x1f\x7f]*$'
# Printable ASCII without spaces at either end (a server strips those from a header value).
_KEY = r"^[\x21-\x7e](?:[\x20-\x7e]{0,198}[\x21-\x7e])?$"


def _link(value: str) -> str:
    if re.fullmatch(_LINK[1:-1], value) is None:
        raise ValueError("an http:// or https:// address without spaces, quotes or <>")
    return value


def _key(value: str) -> str:
    if re.fullmatch(_KEY[1:-1], value) is None:
        raise ValueError("1-200 printable ASCII characters, no spaces at either end")
    return value


def _text(value: object) -> object:
    # In a JSON body pydantic would also read a number as a Unix time: the payload has text.
    if not isinstance(value, str):
        raise ValueError("an RFC 3339 date-time as a string, like 2024-05-01T09:30:00Z")
    return value


TextTime = Annotated[RFC3339Time, BeforeValidator(_text)]
Link = Annotated[
    str,
    AfterValidator(_link),
    WithJsonSchema({"type": "string", "maxLength": LINK_MAX, "pattern": _LINK}),
]
IdempotencyKey = Annotated[
    str,
    AfterValidator(_key),
    WithJsonSchema({"type": "string", "maxLength": KEY_MAX, "pattern": _KEY}),
]
Status = Literal["firing", "resolved"]

# PostgreSQL text holds neither NUL nor half a surrogate pair; Alertmanager's text is a machine's,
# so such a character is replaced rather than the whole group refused (and re-sent forever).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(value: object) -> object:
    return _UNSTORABLE.sub("\ufffd", value) if isinstance(value, str) else value


AmText = Annotated[str, BeforeValidator(_storable)]


class AlertCreate(BaseModel):
    """An alert of our own: a script, a cron job, anything with a token."""

    model_config = ConfigDict(extra="forbid")

    severity: Severity = "warning"
    title: Name = Field(max_length=TITLE_MAX)
    text: MessageText = Field("", max_length=TEXT_MAX)
    link: Link | None = Field(None, max_length=LINK_MAX, description="http or https")
    fingerprint: Name | None = Field(
        None, max_length=160, description="what identifies the condition; default: the title's hash"
    )
    status: Status = Field("firing", description="resolved settles the alert of that fingerprint")


class AmLabels(BaseModel):
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, str] = Field(init=False)

    alertname: Annotated[Name, BeforeValidator(_storable)]
    severity: str | None = None


class AmAnnotations(BaseModel):
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, str] = Field(init=False)

    summary: AmText | None = None
    description: AmText | None = None


class AmAlert(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: Status
    labels: AmLabels
    annotations: AmAnnotations = Field(default_factory=lambda: AmAnnotations())
    starts_at: TextTime = Field(alias="startsAt")
    generator_url: AmText = Field("", alias="generatorURL")
    fingerprint: AmText | None = Field(None, min_length=1, max_length=160)


class AlertmanagerWebhook(BaseModel):
    """Alertmanager's webhook body (``webhook_configs``); fields we do not use are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: Literal["4"]
    status: Status
    receiver: str = ""
    group_key: str = Field("", alias="groupKey")
    alerts: list[AmAlert] = Field(max_length=AM_ALERTS_MAX)


class PayloadInvalid(ValueError):
    """The body is neither of the two shapes; ``errors`` are ``{field, reason}`` for a 422."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['reason']}" for e in errors))
        self.errors = errors


def is_alertmanager(body: object) -> bool:
    """Alertmanager's payload is told apart by its ``alerts`` list (ours has no such field)."""
    return isinstance(body, dict) and "alerts" in body


def read_body(raw: bytes) -> AlertCreate | AlertmanagerWebhook:
    """The body as one of the two shapes; ``PayloadInvalid`` naming each wrong field."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadInvalid([{"field": "body", "reason": f"not valid JSON: {exc}"}]) from None
    shape: type[AlertCreate | AlertmanagerWebhook]
    shape = AlertmanagerWebhook if is_alertmanager(body) else AlertCreate
    try:
        return shape.model_validate(body)
    except ValidationError as exc:
        raise PayloadInvalid([_field_error(e) for e in exc.errors()]) from None


def _field_error(error: Any) -> dict[str, str]:
    where = ".".join(str(part) for part in error["loc"])
    reason = str(error["msg"]).removeprefix("Value error, ")
    if not where:  # not an object at all; pydantic would name our model class
        reason = "a JSON object: an alert, or Alertmanager's webhook payload"
    return {"field": where or "body", "reason": reason}


def fingerprint_of(title: str) -> str:
    """The default fingerprint of an alert of ours: the same title is the same condition."""
    return hashlib.sha256(title.strip().casefold().encode()).hexdigest()[:16]


def api_alert(alert: AlertCreate, *, user_id: int, login: str, key: str | None) -> AlertRaised:
    return AlertRaised(
        source="api",
        sender_user_id=user_id,
        sender_login=login,
        status=alert.status,
        severity=alert.severity,
        title=alert.title,
        text=alert.text,
        link=alert.link,
        fingerprint=alert.fingerprint or fingerprint_of(alert.title),
        idempotency_key=api_key(user_id, key) if key is not None else None,
    )


def api_key(user_id: int, key: str) -> str:
    """The stored key: the sender's id and theirs (two users' same key are two alerts). A key
    the id prefix pushes over the column's 200 characters is kept as its hash."""
    stored = f"{user_id}:{key}"
    if len(stored) > KEY_MAX:
        stored = f"{user_id}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return stored


_SEVERITIES: dict[str, Severity] = {
    "critical": "critical",
    "crit": "critical",
    "error": "critical",
    "page": "critical",
    "high": "critical",
    "emergency": "critical",
    "fatal": "critical",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "info": "info",
    "informational": "info",
    "notice": "info",
    "low": "info",
    "none": "info",
}


def severity_of(label: str | None) -> Severity:
    """Alertmanager's ``severity`` label is free text; the common spellings map onto ours and
    anything else is a warning (never dropped, never shouted)."""
    return _SEVERITIES.get((label or "").strip().lower(), "warning")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _labels_fingerprint(labels: AmLabels) -> str:
    # Alertmanager before 0.19 sent no fingerprint: the label set identifies the alert there.
    pairs = sorted({"alertname": labels.alertname, **(labels.model_extra or {})}.items())
    return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()[:16]


def am_alerts(payload: AlertmanagerWebhook, *, user_id: int, login: str) -> list[AlertRaised]:
    """One event per alert of the group."""
    return [_am_alert(alert, user_id=user_id, login=login) for alert in payload.alerts]


def _am_alert(alert: AmAlert, *, user_id: int, login: str) -> AlertRaised:
    summary = _one_line(alert.annotations.summary or "")
    title = _one_line(alert.labels.alertname)
    if summary:
        title = f"{title}: {summary}"
    text = alert.annotations.description or ""
    fingerprint = alert.fingerprint or _labels_fingerprint(alert.labels)
    link = alert.generator_url.strip()
    return AlertRaised(
        source="alertmanager",
        sender_user_id=user_id,
        sender_login=login,
        status=alert.status,
        severity=severity_of(alert.labels.severity),
        title=_cut(title, TITLE_MAX),
        text=_cut(text, TEXT_MAX),
        link=link if len(link) <= LINK_MAX and re.fullmatch(_LINK[1:-1], link) else None,
        fingerprint=fingerprint,
        idempotency_key=am_key(user_id, fingerprint, alert),
    )


def am_key(user_id: int, fingerprint: str, alert: AmAlert) -> str:
    """The same alert re-sent every ``repeat_interval`` has the same key; its resolution, or the
    same condition firing again later (a new ``startsAt``), has another."""
    starts = alert.starts_at.isoformat()
    key = f"{user_id}:am:{fingerprint}:{starts}:{alert.status}"
    if len(key) > KEY_MAX:  # a very long fingerprint: its hash identifies it as well
        digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:32]
        key = f"{user_id}:am:{digest}:{starts}:{alert.status}"
    return key


def request_schema() -> dict[str, Any]:
    """The body's JSON schema for the OpenAPI document: either shape, inlined (the document's
    components do not hold these models)."""
    adapter: TypeAdapter[AlertCreate | AlertmanagerWebhook]
    adapter = TypeAdapter(AlertCreate | AlertmanagerWebhook)
    schema = adapter.json_schema(by_alias=True)
    definitions = schema.pop("$defs", {})
    return {
        "oneOf": [_inline(choice, definitions) for choice in schema["anyOf"]],
        "description": "an alert of ours, or Prometheus Alertmanager's webhook payload",
    }


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"$ref"}:
            return _inline(definitions[node["$ref"].rsplit("/", 1)[-1]], definitions)
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    return node
