"""The watchdog's tables: its lease, each account's worker state, and the workers' heartbeats.

``watchdog_leases`` and ``worker_states`` are written by the lease-holding watchdog only;
``worker_heartbeats`` by the workers themselves (``bots.heartbeat``), one row per account.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base, _now


class WatchdogLease(Base):
    """Who may act: the one watchdog whose lease has not expired."""

    __tablename__ = "watchdog_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WorkerState(Base):
    """An account's worker as the watchdog sees it; kept here so a restarted watchdog goes on
    backing off and keeps quarantines."""

    __tablename__ = "worker_states"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16))  # running | backoff | quarantined | stopped
    instance: Mapped[str | None] = mapped_column(String(64))  # the last started worker's
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    restarts: Mapped[int] = mapped_column(Integer, default=0)  # since the last healthy run
    crash_times: Mapped[list[Any]] = mapped_column(
        JSON().with_variant(postgresql.JSONB(), "postgresql"), default=list
    )  # ISO times of crashes within the quarantine window
    next_start_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_exit_code: Mapped[int | None] = mapped_column(Integer)
    last_reason: Mapped[str | None] = mapped_column(String(32))
    last_log: Mapped[str | None] = mapped_column(Text)
    quarantined: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = _now()


class WorkerHeartbeat(Base):
    """The worker's sign of life, written every few seconds by the worker process."""

    __tablename__ = "worker_heartbeats"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    instance: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    beat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
