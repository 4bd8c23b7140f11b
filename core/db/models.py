"""The schema: one set of models for PostgreSQL (production, tests) and SQLite (demo).

Telegram ids are 64-bit. JSON columns become JSONB on PostgreSQL. Secrets (session strings, proxy
URLs with credentials) are stored only as ciphertext, see ``core.security``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

JsonType = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JsonType, list[str]: JsonType, list[int]: JsonType}


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Account(Base):
    """A Telegram user account we operate (parser, manager or scripts role)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    status_reason: Mapped[str | None] = mapped_column(Text)
    session_secret: Mapped[str] = mapped_column(Text)
    proxy_secret: Mapped[str | None] = mapped_column(Text)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger)
    flood_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    peer_flood_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    phone: Mapped[str | None] = mapped_column(String(32))  # as logged in with, for a new login
    daily_cap: Mapped[int | None] = mapped_column(Integer)  # the account's own ceiling on new DMs
    updates_cursor: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()


class AccountEvent(Base):
    """Something Telegram did to an account (a FloodWait, a PeerFlood, a ban, a revoked session,
    an unreachable proxy): the account pages and the dashboard's health flags read these."""

    __tablename__ = "account_events"
    __table_args__ = (Index("ix_account_events_account_at", "account_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # flood_wait, peer_flood, banned, revoked, proxy
    seconds: Mapped[int | None] = mapped_column(Integer)  # a FloodWait's length
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Chat(Base):
    """A target chat, known by its public reference (@username or invite link)."""

    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(255), unique=True)
    title: Mapped[str | None] = mapped_column(String(255))
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # The operator's own community: scenes may play only here (staged talk elsewhere gets
    # accounts banned and breaks Telegram's rules). ``scene_vars`` fill a scene's {variables}.
    own: Mapped[bool] = mapped_column(default=False, server_default=false())
    scene_vars: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")


class KeywordSet(Base):
    __tablename__ = "keyword_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    keywords: Mapped[list[str]]
    exclude: Mapped[list[str]]


class CampaignChat(Base):
    __tablename__ = "campaign_chats"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )


class CampaignKeywordSet(Base):
    __tablename__ = "campaign_keyword_sets"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    keyword_set_id: Mapped[int] = mapped_column(
        ForeignKey("keyword_sets.id", ondelete="CASCADE"), primary_key=True
    )


class CampaignAccount(Base):
    """An account working for a campaign, as a parser (listens) or a manager (writes DMs)."""

    __tablename__ = "campaign_accounts"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), primary_key=True)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    mode: Mapped[str] = mapped_column(String(16), default="parser")
    status: Mapped[str] = mapped_column(String(16), default="active")
    outreach: Mapped[dict[str, Any]] = mapped_column(default=dict)  # core.outreach.OutreachPolicy
    llm_key_secret: Mapped[str | None] = mapped_column(Text)  # the campaign's own LLM key
    intent: Mapped[dict[str, Any]] = mapped_column(default=dict)  # core.intent.IntentPolicy
    created_at: Mapped[datetime] = _now()

    chats: Mapped[list[Chat]] = relationship(secondary="campaign_chats", lazy="selectin")
    keyword_sets: Mapped[list[KeywordSet]] = relationship(
        secondary="campaign_keyword_sets", lazy="selectin"
    )
    account_links: Mapped[list[CampaignAccount]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )


class ChatDailyCount(Base):
    """Messages the parser read in a chat per UTC day, and how many matched a keyword set."""

    __tablename__ = "chat_daily_counts"

    telegram_chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)


class CampaignDailyCount(Base):
    """What a campaign's outreach did per UTC day and prompt (template) version, kept by the
    manager in the transaction of each event: first DMs sent (on the day they went out) and how
    many of them got an answer (counted on the first DM's day, whenever the answer came),
    conversations opted out (version ''), and the LLM's tokens and cost of the messages written
    that day. The dashboard reads its funnel, rates and costs from here, not from the messages."""

    __tablename__ = "campaign_daily_counts"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    template_version: Mapped[str] = mapped_column(String(16), primary_key=True, default="")
    first_dms: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    opt_outs: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(default=0.0)


class ChatSample(Base):
    """A bounded sample of a chat's recent messages (the parser trims it), so a keyword set can
    be tried against real traffic without keeping every message."""

    __tablename__ = "chat_samples"
    __table_args__ = (Index("ix_chat_samples_chat_id", "telegram_chat_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChatAssignment(Base):
    """Which parser account listens in which chat (one listener per chat is enough)."""

    __tablename__ = "chat_assignments"

    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    assigned_at: Mapped[datetime] = _now()


class Lead(Base):
    """A Telegram user who wrote something a campaign looks for; one per user per campaign."""

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("campaign_id", "telegram_user_id"),
        Index("ix_leads_first_seen_at_id", "first_seen_at", "id"),  # the panel's list (0009)
        # one campaign's leads by day (the dashboard) and its list, newest first (0011)
        Index("ix_leads_campaign_first_seen_at_id", "campaign_id", "first_seen_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    telegram_user_id: Mapped[int] = mapped_column(BigInteger)
    username: Mapped[str | None] = mapped_column(String(64))
    profile: Mapped[dict[str, Any]]
    chat_id: Mapped[int] = mapped_column(BigInteger)
    chat_ref: Mapped[str | None] = mapped_column(String(255))
    message_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[str]]
    hits: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="new")
    # The second stage's verdict (core.intent.IntentVerdict; NULL: the stage was off), the
    # model's probability and the signals that decided it, as a person reads them.
    intent: Mapped[str | None] = mapped_column(String(16))
    intent_score: Mapped[float | None] = mapped_column(Float)
    intent_reason: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LeadHit(Base):
    """One matching message; the unique key makes a redelivered message count once."""

    __tablename__ = "lead_hits"
    __table_args__ = (UniqueConstraint("lead_id", "chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[str]]
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OutboxMessage(Base):
    """An event written in the same transaction as the change it announces; a relay publishes it
    (or, when it cannot be published, moves it aside as a dead letter)."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    routing_key: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # A row the relay could not publish: tries so far, why the last one failed, and when it was
    # moved aside for good (a dead letter, listed beside the bus's own; never published).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    dead_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


# ---- outreach ----------------------------------------------------------------------------------


class Contact(Base):
    """A Telegram user as every campaign sees them: first contact, and do-not-contact."""

    __tablename__ = "contacts"

    telegram_user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    first_contacted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_campaign_id: Mapped[int | None] = mapped_column(Integer)
    do_not_contact: Mapped[bool] = mapped_column(default=False)
    dnc_reason: Mapped[str | None] = mapped_column(Text)
    dnc_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PromptTemplate(Base):
    """Every prompt a campaign ever used, by content hash; outbound messages name theirs."""

    __tablename__ = "prompt_templates"
    __table_args__ = (UniqueConstraint("campaign_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class Conversation(Base):
    """One lead's dialogue with one manager account; its stage is stored, not guessed."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_account_status", "account_id", "status"),
        # the inbox, most recently active first: every conversation, and by status (0009)
        Index("ix_conversations_updated_at_id", "updated_at", "id"),
        Index("ix_conversations_status_updated_at", "status", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), unique=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    username: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24), default="new")
    stage: Mapped[str | None] = mapped_column(String(64))
    turns: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class ConversationMessage(Base):
    """A message in a conversation. Outbound rows are the audit trail: who wrote it (template
    version, model, tokens), who approved it, when it was sent; ``slot`` makes each turn unique,
    and inbound rows use Telegram's message id as their slot so a redelivery adds nothing."""

    __tablename__ = "conversation_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "direction", "slot"),
        # an account's messages by when they went out: the new DMs it sent today (0009)
        Index("ix_conversation_messages_account_sent_at", "account_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(String(3))
    slot: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16), default="turn")
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # handed back
    account_id: Mapped[int | None] = mapped_column(Integer)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    stage: Mapped[str | None] = mapped_column(String(64))
    template_version: Mapped[str | None] = mapped_column(String(16))
    writer: Mapped[str | None] = mapped_column(String(100))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(default=0.0)
    approved_by: Mapped[str | None] = mapped_column(String(64))
    draft_text: Mapped[str | None] = mapped_column(
        Text
    )  # the model's text, when a person edited it
    decided_by: Mapped[str | None] = mapped_column(String(64))  # who approved or rejected it
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    # every attempt for this turn and what the output checks found (None: the first passed)
    checks: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonType)
    created_at: Mapped[datetime] = _now()
    send_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SentKey(Base):
    """Written by an account worker *before* it sends: a key seen again is never sent again."""

    __tablename__ = "sent_keys"

    idempotency_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    peer_user_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = _now()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Append-only: every decision about an outbound message and who made it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = _now()
    actor: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(Integer)  # the authenticated user, when a person
    channel: Mapped[str | None] = mapped_column(String(16))  # panel, api, telegram, cli, system
    action: Mapped[str] = mapped_column(String(32))
    campaign_id: Mapped[int | None] = mapped_column(Integer, index=True)
    account_id: Mapped[int | None] = mapped_column(Integer)
    lead_id: Mapped[int | None] = mapped_column(Integer)
    conversation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    message_id: Mapped[int | None] = mapped_column(Integer)
    template_version: Mapped[str | None] = mapped_column(String(16))
    writer: Mapped[str | None] = mapped_column(String(100))
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[dict[str, Any]]


# ---- people and access -------------------------------------------------------------------------


class User(Base):
    """A person who may use the panel or the API, with one role (``core.access.Role``)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)  # stored lower-case
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)  # argon2id
    role: Mapped[str] = mapped_column(String(16))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    password_changed_at: Mapped[datetime] = _now()
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")  # panel
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")


class UserSession(Base):
    """A signed-in browser; the cookie holds a random token, the row only its SHA-256."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # absolute expiry
    client: Mapped[str | None] = mapped_column(String(64))


class ApiToken(Base):
    """A per-user API token, shown once; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))  # the first characters, to tell tokens apart
    # "full": everything the user's role allows; "alerts": only POST /api/v1/alerts (Alertmanager)
    scope: Mapped[str] = mapped_column(String(16), default="full", server_default="full")
    created_at: Mapped[datetime] = _now()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginFailure(Base):
    """A failed sign-in, keyed by login and by client address, for throttling across processes."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(160))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# The notifier's tables live beside these, in one metadata (Alembic sees every table).
from core.db import intent_models as _intent_models  # noqa: E402, F401
from core.db import judge_models as _judge_models  # noqa: E402, F401
from core.db import notifier_models as _notifier_models  # noqa: E402, F401
from core.db import scene_models as _scene_models  # noqa: E402, F401
from core.db import watchdog_models as _watchdog_models  # noqa: E402, F401
