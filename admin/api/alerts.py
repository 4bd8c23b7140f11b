"""Alerts over the API: send one (ours, or Prometheus Alertmanager's webhook payload) and read the
alert log with what each recipient did.

Sending writes ``alert.raised`` events to the outbox in the request's transaction; the notifier
stores and delivers them, and deduplicates concurrent repeats by their unique idempotency key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from admin.access.deps import AlertSender, Viewer
from admin.api.alertmanager import (
    AlertCreate,
    IdempotencyKey,
    PayloadInvalid,
    am_alerts,
    api_alert,
    api_key,
    read_body,
    request_schema,
)
from admin.api.deps import DbDep, SessionDep
from admin.api.fields import DB_INT_MAX, OneLine, RFC3339Time
from admin.api.schemas import Timestamp
from admin.reads.alerts import (
    LIMIT_MAX,
    AlertFilter,
    AlertView,
    alert_by_key,
    alert_page,
    one_alert,
)
from core.events import AlertRaised, Event
from core.outbox import add_many_to_outbox

router = APIRouter(prefix="/alerts", tags=["alerts"])
AlertId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
BODY_MAX = 4 * 1024 * 1024  # a group of 1,000 alerts with long descriptions fits


class AlertAccepted(BaseModel):
    accepted: Literal[True] = True
    fingerprint: str
    status_url: str = Field(description="where the alert shows once the notifier stored it")


class AlertsAccepted(BaseModel):
    """An Alertmanager payload: how many of its alerts are new, how many were seen before."""

    accepted: int
    duplicates: int
    fingerprints: list[str]


class AlertDuplicate(BaseModel):
    alert_id: int
    duplicate: Literal[True] = True


class DeliveryRead(BaseModel):
    recipient_id: int
    recipient: str = Field(description="the chat's title")
    recipient_kind: str = Field(description="user (a linked user's chat) or group")
    login: str | None = Field(description="the linked panel user of a user's chat")
    status: str = Field(description="queued, silenced or inhibited")
    message_state: str | None = Field(description="pending, sending, sent…; null: no message")
    message_at: Timestamp | None = Field(description="when the message was sent or last edited")
    message_error: str | None
    action: str | None = Field(description="what the recipient did: approved, taken_over…")
    acted_at: Timestamp | None


class AlertRead(BaseModel):
    id: int
    kind: str
    severity: str
    state: str = Field(description="firing, resolved or handled")
    fingerprint: str
    subject: str
    campaign_id: int | None
    title: str
    text: str
    link: str | None
    source: str = Field(description="event, api or alertmanager")
    sender: str | None = Field(description="the login whose token sent it (api, alertmanager)")
    outcome: str | None
    handled_by: str | None
    handled_at: Timestamp | None
    repeats: int
    created_at: Timestamp
    last_seen_at: Timestamp
    resolved_at: Timestamp | None
    deliveries: list[DeliveryRead]


class AlertPageRead(BaseModel):
    items: list[AlertRead]
    next_before: int | None = Field(description="pass as before= for the next, older page")


_ALERT_COLUMNS = [name for name in AlertRead.model_fields if name not in ("sender", "deliveries")]


def _read(view: AlertView) -> AlertRead:
    return AlertRead(
        **{name: getattr(view.alert, name) for name in _ALERT_COLUMNS},
        sender=view.sender,
        deliveries=[DeliveryRead(**vars(d)) for d in view.deliveries],
    )


def _invalid(errors: list[dict[str, str]]) -> HTTPException:
    return HTTPException(422, errors)


@router.post(
    "",
    status_code=202,
    response_model=AlertAccepted | AlertsAccepted,
    responses={
        200: {"model": AlertDuplicate, "description": "this Idempotency-Key made an alert before"},
        422: {"description": "a field is wrong (named, dotted: alerts.2.labels.alertname)"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": request_schema()}},
        }
    },
)
async def send_alert(
    actor: AlertSender,
    request: Request,
    db: DbDep,
    idempotency_key: Annotated[
        IdempotencyKey | None,
        Header(
            alias="Idempotency-Key",
            description="the same key twice (from the same user) makes one alert",
        ),
    ] = None,
) -> Any:
    """Send an alert to the operators' Telegram: ``{severity, title, text, link, fingerprint,
    status}``, or Prometheus Alertmanager's webhook payload (one alert per alert of the group;
    a group re-sent every repeat_interval makes no new alerts)."""
    raw = await request.body()
    if len(raw) > BODY_MAX:
        raise _invalid([{"field": "body", "reason": f"larger than {BODY_MAX} bytes"}])
    try:
        body = read_body(raw)
    except PayloadInvalid as exc:
        raise _invalid(exc.errors) from None
    user_id = actor.user_id or 0
    async with db.transaction() as session:
        if isinstance(body, AlertCreate):
            if idempotency_key is not None:
                made = await alert_by_key(session, api_key(user_id, idempotency_key))
                if made is not None:
                    return JSONResponse(AlertDuplicate(alert_id=made).model_dump(), 200)
            event = api_alert(body, user_id=user_id, login=actor.login, key=idempotency_key)
            await _publish(session, [event])
            return AlertAccepted(
                fingerprint=event.fingerprint,
                status_url=_status_url(event),
            )
        events = am_alerts(body, user_id=user_id, login=actor.login)
        fresh = [e for e in events if await alert_by_key(session, e.idempotency_key or "") is None]
        await _publish(session, fresh)
    return AlertsAccepted(
        accepted=len(fresh),
        duplicates=len(events) - len(fresh),
        fingerprints=[e.fingerprint for e in fresh],
    )


def _status_url(event: AlertRaised) -> str:
    # The notifier keeps each source's fingerprints apart: it stores "api:<fingerprint>".
    stored = f"{event.source}:{event.fingerprint}"
    return f"/api/v1/alerts?fingerprint={quote(stored, safe=':')}"


async def _publish(session: Any, events: list[AlertRaised]) -> None:
    if events:
        await add_many_to_outbox(session, [(Event.of(e), None) for e in events])


@router.get("", response_model=AlertPageRead)
async def alert_log(
    _: Viewer,
    session: SessionDep,
    kind: Annotated[OneLine | None, Query(min_length=1, max_length=48)] = None,
    state: Annotated[Literal["firing", "resolved", "handled"] | None, Query()] = None,
    # No control characters: PostgreSQL refuses a NUL in a query (a 500 otherwise).
    fingerprint: Annotated[OneLine | None, Query(min_length=1, max_length=160)] = None,
    since: Annotated[RFC3339Time | None, Query(description="created at or after")] = None,
    before: Annotated[int | None, Query(ge=1, le=DB_INT_MAX, description="older than id")] = None,
    limit: Annotated[int, Query(ge=1, le=LIMIT_MAX)] = 50,
) -> AlertPageRead:
    """The alert log, newest first: each alert with its recipients, the state of the message
    each got and what each did with it."""
    wanted = AlertFilter(kind, state, fingerprint, since, before, limit)
    page = await alert_page(session, wanted)
    return AlertPageRead(items=[_read(v) for v in page.alerts], next_before=page.next_before)


@router.get("/{alert_id}", response_model=AlertRead, responses={404: {"description": "no alert"}})
async def alert(_: Viewer, alert_id: AlertId, session: SessionDep) -> AlertRead:
    view = await one_alert(session, alert_id)
    if view is None:
        raise HTTPException(404, f"there is no alert {alert_id}")
    return _read(view)
