"""New alerts into the log, and to whom each goes, for a chunk of alerts at once.

A repeat (a client's retried request, an event delivered again, a condition still firing within
the repeat interval) changes the alert already there instead of making another: the same
idempotency key is dropped, the same event (fingerprint and time) is dropped, a firing
fingerprint within the interval is counted on its alert ("×N") and its message redrawn.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.notifier_models import Alert, AlertDelivery, AlertMessage
from core.events import as_utc
from notifier import routing
from notifier.alert_kinds import kind
from notifier.event_alerts import NewAlert
from notifier.grouping import MessagePlan, group_key


async def raise_alerts(
    session: AsyncSession,
    news: list[NewAlert],
    everyone: list[routing.Recipient],
    *,
    now: datetime,
    repeat: timedelta,
    window: timedelta,
) -> list[int]:
    """Store ``news`` and plan their messages; returns the ids of alerts that only repeated
    (their messages need redrawing)."""
    created, repeated = await _log(session, news, repeat=repeat)
    if not created:
        return repeated
    await session.flush()  # the alerts' ids, for their messages and deliveries
    mutes = await routing.Mutes.load(session, [a for a, _ in created], now)
    holding = await routing.holders(session, {c for _, c in created if c is not None})
    targets = [
        (alert, routing.recipients_for(alert, everyone, holding.get(conversation or 0)))
        for alert, conversation in created
    ]
    plan = MessagePlan(session, now=now, window=window)
    await plan.load(
        {
            (r.id, key)
            for alert, recipients in targets
            for r in recipients
            if (key := group_key(alert, r)) is not None
        }
    )
    placed: list[tuple[Alert, routing.Recipient, AlertMessage]] = []
    muted: list[tuple[Alert, routing.Recipient, str]] = []
    for alert, recipients in targets:
        why = mutes.why(alert) if recipients else None
        for recipient in recipients:
            if why is None:
                placed.append((alert, recipient, plan.place(recipient, alert)))
            else:
                muted.append((alert, recipient, why))
    await session.flush()  # the new messages' ids
    session.add_all(
        AlertDelivery(
            alert_id=alert.id,
            recipient_id=recipient.id,
            message_id=message.id,
            status="queued",
            created_at=now,
        )
        for alert, recipient, message in placed
    )
    session.add_all(
        AlertDelivery(alert_id=alert.id, recipient_id=recipient.id, status=why, created_at=now)
        for alert, recipient, why in muted
    )
    return repeated


async def _log(
    session: AsyncSession, news: list[NewAlert], *, repeat: timedelta
) -> tuple[list[tuple[Alert, int | None]], list[int]]:
    """New alert rows (not flushed) with their conversation, and the ids of repeated ones."""
    keys = {n.idempotency_key for n in news if n.idempotency_key is not None}
    seen_keys = (
        set(
            await session.scalars(
                select(Alert.idempotency_key).where(Alert.idempotency_key.in_(keys))
            )
        )
        if keys
        else set()
    )
    firing: dict[str, Alert] = {}
    fingerprints = {n.fingerprint for n in news}
    for row in await session.scalars(
        select(Alert)
        .where(Alert.fingerprint.in_(fingerprints), Alert.state == "firing")
        .order_by(Alert.id)
    ):
        firing[row.fingerprint] = row  # the newest firing one per fingerprint
    created: list[tuple[Alert, int | None]] = []
    repeated: list[int] = []
    for new in news:
        if new.idempotency_key is not None:
            if new.idempotency_key in seen_keys:
                continue  # the same request again (a client's retry)
            seen_keys.add(new.idempotency_key)
        earlier = firing.get(new.fingerprint)
        if earlier is not None:
            if new.at in (as_utc(earlier.created_at), as_utc(earlier.last_seen_at)):
                continue  # this very event, delivered again
            if new.at - as_utc(earlier.created_at) < repeat:
                earlier.repeats += 1
                earlier.last_seen_at = new.at
                if earlier.id is not None:
                    repeated.append(earlier.id)
                continue
        alert = _row(new)
        session.add(alert)
        firing[new.fingerprint] = alert
        created.append((alert, new.conversation_id))
    return created, repeated


def _row(new: NewAlert) -> Alert:
    return Alert(
        kind=new.kind,
        severity=new.severity or kind(new.kind).severity,
        fingerprint=new.fingerprint,
        subject=new.subject,
        campaign_id=new.campaign_id,
        title=new.title[:256],
        text=new.text,
        link=new.link,
        data=new.data,
        state="firing",
        source=new.source,
        sender_user_id=new.sender_user_id,
        idempotency_key=new.idempotency_key,
        repeats=0,
        created_at=new.at,
        last_seen_at=new.at,
        resolve_at=new.resolve_at,
    )
