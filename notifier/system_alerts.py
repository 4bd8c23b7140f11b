"""Events about accounts, workers, scene runs and monitoring, turned into alerts and settlements
(the outreach ones are in ``notifier.event_alerts``, with the shapes both share)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Account
from core.events import (
    AccountBanned,
    AccountRevoked,
    AlertRaised,
    Event,
    RunEnded,
    SendFailed,
    WorkerCrashed,
)
from core.worker_commands import WorkerReleased
from notifier.event_alerts import NewAlert, Outcome, Settle

LONG_FLOOD_WAIT = timedelta(minutes=5)  # shorter waits are routine pacing, not worth a page


async def _account_name(session: AsyncSession, account_id: int) -> str:
    name = await session.scalar(select(Account.name).where(Account.id == account_id))
    return name or f"account {account_id}"


async def account_lost(session: AsyncSession, event: Event) -> list[Outcome]:
    lost = (
        event.payload_as(AccountBanned)
        if event.name == AccountBanned.NAME
        else event.payload_as(AccountRevoked)
    )
    kind = "account.banned" if event.name == AccountBanned.NAME else "account.revoked"
    name = await _account_name(session, lost.account_id)
    verb = "is banned" if kind == "account.banned" else "needs a new login"
    return [
        NewAlert(
            kind=kind,
            fingerprint=f"{kind}:{lost.account_id}",
            subject=f"account:{lost.account_id}",
            title=f"Account {name} {verb}",
            text=lost.reason,
            data={"account_id": lost.account_id, "account": name, "reason": lost.reason},
            at=event.occurred_at,
        )
    ]


async def send_failed(session: AsyncSession, event: Event) -> list[Outcome]:
    failed = event.payload_as(SendFailed)
    if failed.reason == "peer_flood":
        until = await session.scalar(
            select(Account.peer_flood_until).where(Account.id == failed.account_id)
        )
        kind, title = "account.limited", "is PeerFlood-limited: no new first messages"
    elif failed.reason == "flood_wait" and failed.retry_after is not None:
        until = failed.retry_after
        if until - event.occurred_at < LONG_FLOOD_WAIT:
            return []
        kind, title = "account.flood_wait", "must wait out a long FloodWait"
    else:
        return []
    name = await _account_name(session, failed.account_id)
    data = {"account_id": failed.account_id, "account": name, "until": _iso(until)}
    return [
        NewAlert(
            kind=kind,
            fingerprint=f"{kind}:{failed.account_id}",
            subject=f"account:{failed.account_id}",
            title=f"Account {name} {title}",
            text=failed.detail,
            data=data,
            resolve_at=until,
            at=event.occurred_at,
        )
    ]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


async def worker_crashed(session: AsyncSession, event: Event) -> list[Outcome]:
    """A worker in a crash loop (the watchdog quarantined it) or one crash: the message says
    which account, the exit code, OOM or not, and the last log lines (rendering_workers)."""
    crash = event.payload_as(WorkerCrashed)
    name = await _account_name(session, crash.account_id)
    data = crash.model_dump(mode="json", exclude={"log_tail"}) | {"account": name}
    state = f"is quarantined after {crash.restarts} crashes" if crash.quarantined else "crashed"
    memory = ", killed for memory" if crash.oom_killed else ""
    return [
        NewAlert(
            kind="worker.crashed",
            fingerprint=f"worker.crashed:{crash.account_id}",
            subject=f"account:{crash.account_id}",
            title=f"The worker of {name} {state} (exit {crash.exit_code}{memory})",
            text=crash.log_tail,  # kept whole in the log; the message shows its end
            data=data,
            at=event.occurred_at,
        )
    ]


async def worker_released(session: AsyncSession, event: Event) -> list[Outcome]:
    """Someone released the worker from quarantine: its crash-loop alert is handled."""
    released = event.payload_as(WorkerReleased)
    return [
        Settle(
            state="handled",
            outcome="released",
            by=released.by,
            at=event.occurred_at,
            kinds=("worker.crashed",),
            subject=f"account:{released.account_id}",
        )
    ]


async def run_ended(session: AsyncSession, event: Event) -> list[Outcome]:
    run = event.payload_as(RunEnded)
    kind = "run.failed" if run.outcome == "failed" else "run.finished"
    return [
        NewAlert(
            kind=kind,
            fingerprint=f"run:{run.run_id}",
            subject=f"run:{run.run_id}",
            title=f"Run of {run.scene} in {run.chat} {run.outcome}",
            text=run.reason,
            data=run.model_dump(mode="json"),
            at=event.occurred_at,
        )
    ]


async def alert_raised(session: AsyncSession, event: Event) -> list[Outcome]:
    raised = event.payload_as(AlertRaised)
    fingerprint = f"{raised.source}:{raised.fingerprint}"
    if raised.status == "resolved":
        settle = Settle(state="resolved", outcome="resolved", at=event.occurred_at)
        settle.fingerprint = fingerprint
        return [settle]
    return [
        NewAlert(
            kind="alert",
            fingerprint=fingerprint,
            subject=f"{raised.source}:{raised.fingerprint}",
            title=raised.title,
            text=raised.text,
            severity=raised.severity,
            link=raised.link,
            data={"sender": raised.sender_login, "source": raised.source},
            source=raised.source,
            sender_user_id=raised.sender_user_id,
            idempotency_key=raised.idempotency_key,
            at=event.occurred_at,
        )
    ]
