"""Audit rows not tied to a conversation: sign-ins, lockouts, users, tokens, do-not-contact."""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.access import Actor, Channel
from core.db.models import AuditEntry


def printable(text: str, *, limit: int = 64) -> str:
    """``text`` without control characters, cut to ``limit``: safe to store and show."""
    clean = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    return clean[:limit]


def record(
    session: AsyncSession,
    action: str,
    *,
    actor: Actor | None = None,
    login: str | None = None,
    channel: Channel | None = None,
    **detail: Any,
) -> None:
    """Append one row. ``actor`` is the authenticated person; ``login``/``channel`` name an
    attempt that has no authenticated person yet (a failed sign-in)."""
    session.add(
        AuditEntry(
            actor=actor.login if actor else printable(login or "anonymous"),
            user_id=actor.user_id if actor else None,
            channel=actor.channel if actor else channel,
            action=action,
            tokens=0,
            detail=detail,
        )
    )
