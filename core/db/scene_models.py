"""Scripts mode's tables: scenarios (the admin's, like campaigns) and runs (the scripts service's).

``scenarios`` and ``scenario_versions`` are configuration: the admin API writes them, every save
a new version, so a run names exactly the text it plays. Everything about runs — the run, its
lines, its history, the members' messages heard during it, which variations a chat has seen and
which of our accounts sit in which own chat — is written by the scripts service only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base, JsonType, _now


class Scenario(Base):
    """A scene as the admin keeps it: the current text and the cast (role → account id)."""

    __tablename__ = "scenarios"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer, default=1)  # the current one
    source: Mapped[str] = mapped_column(Text)  # the current version's text
    roles: Mapped[list[str]]
    cast: Mapped[dict[str, Any]] = mapped_column(default=dict)  # role → account id
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | archived
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    updated_by: Mapped[str | None] = mapped_column(String(64))


class ScenarioVersion(Base):
    """Every text a scenario ever had; runs name the version they play."""

    __tablename__ = "scenario_versions"
    __table_args__ = (UniqueConstraint("scenario_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()


# A run's status: due to be played by the coordinator, holding its accounts in its chat, over.
RUN_DUE = ("scheduled", "playing")
RUN_LIVE = ("playing", "paused")
RUN_OVER = ("finished", "failed", "cancelled")


class SceneRun(Base):
    """One scene × chat × cast. ``pc`` is the position in the compiled scene; ``next_at`` when
    the run next needs the coordinator (a line due, a pause over, a listen timing out)."""

    __tablename__ = "scene_runs"
    __table_args__ = (
        Index("ix_scene_runs_status_next_at", "status", "next_at"),
        Index("ix_scene_runs_chat_status", "chat_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    chat_ref: Mapped[str] = mapped_column(String(255))
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    cast: Mapped[dict[str, Any]] = mapped_column(default=dict)  # role → account id
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seed: Mapped[int] = mapped_column(BigInteger)
    # scheduled, playing, paused, finished, failed, cancelled
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    pc: Mapped[int] = mapped_column(Integer, default=0)
    # what the position needs: the member a listen heard, until when it listens, a FloodWait
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    next_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lines_sent: Mapped[int] = mapped_column(Integer, default=0)
    member_messages: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)  # members quoting the scene's lines
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class SceneRunLine(Base):
    """A line of a run as it went out (or is going): one per position, so a line is never sent
    twice by a run; the key is the worker's idempotency key (a new attempt after a long
    FloodWait gets a new one, the old one having failed)."""

    __tablename__ = "scene_run_lines"
    __table_args__ = (
        UniqueConstraint("run_id", "pc"),
        Index("ix_scene_run_lines_chat_text", "chat_id", "text_hash", "sent_at"),
        Index("ix_scene_run_lines_account_sent_at", "account_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("scene_runs.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(Integer)  # chats.id, for the repeated-text window
    pc: Mapped[int] = mapped_column(Integer)
    line: Mapped[int] = mapped_column(Integer)  # in the scene's source
    role: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(16))
    reply_to: Mapped[int | None] = mapped_column(BigInteger)  # Telegram message id quoted
    attachment: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    typing_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    picks: Mapped[list[Any]] = mapped_column(JsonType, default=list)  # [choice key, option]
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))  # queued, sent, failed
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str | None] = mapped_column(Text)


class SceneRunEvent(Base):
    """A run's history: started, line sent, waiting, heard, paused, flood wait, ended …"""

    __tablename__ = "scene_run_events"
    __table_args__ = (Index("ix_scene_run_events_run_id", "run_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("scene_runs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    line: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SceneChatMessage(Base):
    """A member's message in a run's chat while it played or shortly after (engagement)."""

    __tablename__ = "scene_chat_messages"
    __table_args__ = (UniqueConstraint("run_id", "telegram_message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("scene_runs.id", ondelete="CASCADE"))
    telegram_message_id: Mapped[int] = mapped_column(BigInteger)
    sender_user_id: Mapped[int] = mapped_column(BigInteger)
    sender_name: Mapped[str] = mapped_column(String(160))
    text: Mapped[str] = mapped_column(Text)
    reply_to_line_id: Mapped[int | None] = mapped_column(Integer)  # the scene line it quotes
    during: Mapped[bool] = mapped_column(default=True)  # False: after the run ended
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SceneVariantUse(Base):
    """Which option of a once-per-chat or shuffled variation a chat has seen, in order."""

    __tablename__ = "scene_variant_uses"
    __table_args__ = (Index("ix_scene_variant_uses_chat_key", "chat_id", "choice_key", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(Integer)
    scenario_id: Mapped[int] = mapped_column(Integer)
    choice_key: Mapped[str] = mapped_column(String(32))
    variant: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int] = mapped_column(Integer)
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SceneMember(Base):
    """One of our accounts sits in one of the operator's own chats for scenes (its worker joins
    these besides the parser's assignments, and hears the members there)."""

    __tablename__ = "scene_members"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    since: Mapped[datetime] = _now()
