"""Event contracts: one envelope for every message on the bus, typed payloads inside it.

A payload class names its event (``NAME``) and contract version (``VERSION``); ``Event.of`` wraps a
payload, ``Event.payload_as`` validates it back. Only this module defines what crosses the bus.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from core.intent import IntentVerdict

P = TypeVar("P", bound="Payload")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC one (SQLite hands back naive datetimes)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _unset(value: object) -> bool:
    return value is None


class Payload(BaseModel):
    """Base of every event payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    NAME: ClassVar[str]
    VERSION: ClassVar[int] = 1


class Event(BaseModel):
    """The envelope: id, name, version, occurred_at, correlation_id, payload.

    A request (``Bus.request``) also carries ``reply_to``, where its answer goes, and ``deadline``,
    after which nobody waits for that answer any more; other events leave both unset.
    """

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    name: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=utcnow)
    correlation_id: uuid.UUID | None = None
    payload: dict[str, object]
    # Left out of the JSON when unset: every other event stays byte for byte what it was.
    reply_to: str | None = Field(default=None, exclude_if=_unset)
    deadline: AwareDatetime | None = Field(default=None, exclude_if=_unset)

    @classmethod
    def of(cls, payload: Payload, *, correlation_id: uuid.UUID | None = None) -> Event:
        return cls(
            name=payload.NAME,
            version=payload.VERSION,
            correlation_id=correlation_id,
            payload=payload.model_dump(mode="json"),
        )

    def payload_as(self, kind: type[P]) -> P:
        """Validate the payload as ``kind``; raises pydantic.ValidationError on a malformed one."""
        return kind.model_validate(self.payload)


def _without_nul(text: str) -> str:
    return text.replace("\x00", "")  # the same object back when there is none


# What people typed: PostgreSQL stores no NUL in text or JSON, so one (a forged update; clients
# never send it) would refuse the row forever, the chat's activity with it; it is dropped here.
TypedText = Annotated[str, AfterValidator(_without_nul)]


class Profile(BaseModel):
    """A Telegram user's public profile as seen when the message arrived."""

    model_config = ConfigDict(frozen=True)

    user_id: int
    username: TypedText | None = None
    first_name: TypedText | None = None
    last_name: TypedText | None = None
    bio: TypedText | None = None
    is_bot: bool = False


class MessageIncoming(Payload):
    """A message seen by one of our accounts, in a chat or in a DM."""

    NAME: ClassVar[str] = "message.incoming"

    account_id: int
    chat_id: int
    chat_ref: str | None = None
    chat_title: TypedText | None = None
    is_private: bool = False
    message_id: int
    text: TypedText
    date: datetime
    link: str | None = None
    sender: Profile
    reply_to_message_id: int | None = None  # the message this one quotes, in the same chat


class LeadFound(Payload):
    """A matching message made (or extended) a lead."""

    NAME: ClassVar[str] = "lead.found"

    lead_id: int
    campaign_id: int
    telegram_user_id: int
    chat_id: int
    message_id: int
    text: str
    link: str | None = None
    keywords: list[str]
    is_new: bool
    # The second stage (core.intent): its verdict on this message, probability and reason.
    # None when the campaign's stage is off; the manager writes only to "lead" (and None).
    intent: IntentVerdict | None = None
    score: float | None = Field(None, ge=0.0, le=1.0)
    reason: str | None = Field(None, max_length=500)


class LeadMarked(Payload):
    """An operator said a lead is (not) a lead; the parser kept the mark (``command.lead``).
    Questions and alerts about the lead elsewhere (the notifier's) are answered by it."""

    NAME: ClassVar[str] = "lead.marked"

    lead_id: int
    campaign_id: int
    mark: Literal["lead", "not_lead"]
    by: str = Field(min_length=1, max_length=64)  # the operator's login


class LeadReferred(Payload):
    """A scene heard a member ask something off-script and hands them to a campaign: the parser
    records them as that campaign's lead (the parser is the only writer of leads)."""

    NAME: ClassVar[str] = "lead.referred"

    campaign: str  # the campaign's name, as the scene's `lead` step says it
    reason: str = Field(max_length=200)  # kept as the lead's keyword, e.g. "scene Product Q&A"
    message: MessageIncoming


class AccountStatusChanged(Payload):
    """An account was banned, revoked, limited or came back."""

    NAME: ClassVar[str] = "account.status"

    account_id: int
    status: str
    reason: str
    until: datetime | None = None


class AccountBanned(Payload):
    """An account can no longer be used (ban, deactivation, PeerFlood)."""

    NAME: ClassVar[str] = "account.banned"

    account_id: int
    reason: str


class AccountRevoked(Payload):
    """An account's session was revoked or expired: it needs a new login."""

    NAME: ClassVar[str] = "account.revoked"

    account_id: int
    reason: str


class ConfigChanged(Payload):
    """Configuration (accounts, chats, keyword sets, campaigns) changed; services reload."""

    NAME: ClassVar[str] = "config.changed"

    reason: str = ""


class JoinChats(Payload):
    """Command to one account worker: be a member of exactly these chats and listen there."""

    NAME: ClassVar[str] = "command.join_chats"

    account_id: int
    chat_refs: list[str]


def account_routing_key(account_id: int, name: str) -> str:
    """Commands for one account travel on ``account.<id>.<event name>``."""
    return f"account.{account_id}.{name}"


# ---- outreach (manager ↔ account workers, operators) --------------------------------------------


class SceneDelivery(BaseModel):
    """Where and how a scene's line goes: into a group, maybe quoting a message, maybe with a
    photo or sticker, after "typing…" for a while. Its results travel on ``<event>.scene``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: int
    chat_id: int | None  # Telegram's id of the chat, once known
    chat_ref: str  # @name or invite link, when the id is not known (yet) to this account
    reply_to: int | None = None  # Telegram message id in that chat
    attachment_kind: Literal["photo", "sticker"] | None = None
    attachment_ref: str | None = None
    typing_seconds: float = Field(0.0, ge=0, le=60)


class SendMessage(Payload):
    """Command to one account worker: send ``text`` once for ``idempotency_key`` — to a user
    (outreach: ``peer_user_id``) or, with ``scene``, into a group (scripts mode: then
    ``message_id`` is the run's line and the conversation and peer are 0)."""

    NAME: ClassVar[str] = "command.send"

    idempotency_key: str
    account_id: int
    campaign_id: int
    conversation_id: int
    message_id: int  # the manager's conversation_messages row, or a scene_run_lines row
    peer_user_id: int
    peer_username: str | None = None
    text: str
    scene: SceneDelivery | None = None


class MessageSent(Payload):
    """An account worker delivered a ``command.send`` to Telegram."""

    NAME: ClassVar[str] = "message.sent"

    idempotency_key: str
    account_id: int
    conversation_id: int
    message_id: int
    peer_user_id: int
    telegram_message_id: int
    sent_at: datetime
    run_id: int | None = None  # a scene's line (routing key ``message.sent.scene``)


SCENE_RESULT_SUFFIX = ".scene"  # results of scene lines: message.sent.scene, …send_failed.scene

SendFailure = Literal[
    "peer_flood",
    "banned",
    "revoked",
    "forbidden",
    "not_found",
    "flood_wait",
    "attachment_missing",  # a scene line's photo or sticker file is not in the media directory
]


class SendFailed(Payload):
    """An account worker could not deliver a ``command.send``; nothing was sent."""

    NAME: ClassVar[str] = "message.send_failed"

    idempotency_key: str
    account_id: int
    conversation_id: int
    message_id: int
    peer_user_id: int
    reason: SendFailure
    detail: str = ""
    retry_after: datetime | None = None  # flood_wait: Telegram allows this account to send then
    run_id: int | None = None  # a scene's line (routing key ``message.send_failed.scene``)


class DraftPending(Payload):
    """A draft waits for an operator: approve, edit or reject before it may be sent."""

    NAME: ClassVar[str] = "draft.pending"

    message_id: int
    conversation_id: int
    campaign_id: int
    lead_id: int
    text: str
    reason: str
    expires_at: datetime


class ConversationHandoff(Payload):
    """Automatic replies stopped for a conversation: a person takes it from here."""

    NAME: ClassVar[str] = "conversation.handoff"

    conversation_id: int
    campaign_id: int
    lead_id: int
    reason: str
    by: str


class ContactOptedOut(Payload):
    """A user asked us to stop writing (or blocked us): no campaign writes to them again."""

    NAME: ClassVar[str] = "contact.opted_out"

    telegram_user_id: int
    campaign_id: int | None
    conversation_id: int | None
    reason: str


DraftDecision = Literal["approved", "edited_and_approved", "rejected", "expired"]


class DraftDecided(Payload):
    """A pending draft was approved, rejected or expired: its approval requests are settled."""

    NAME: ClassVar[str] = "draft.decided"

    message_id: int
    conversation_id: int
    campaign_id: int
    decision: DraftDecision
    by: str
    at: datetime


class ConversationReply(Payload):
    """The lead wrote in a conversation a person has taken over (automation will not answer)."""

    NAME: ClassVar[str] = "conversation.reply"

    conversation_id: int
    campaign_id: int
    lead_id: int
    telegram_user_id: int
    text: str
    at: datetime


class ConversationHandedBack(Payload):
    """A person handed a conversation back to automation."""

    NAME: ClassVar[str] = "conversation.handed_back"

    conversation_id: int
    campaign_id: int
    by: str


# ---- operations alerts (the notifier's inputs beyond outreach) ---------------------------------

Severity = Literal["info", "warning", "critical"]


class AlertRaised(Payload):
    """An alert from outside the event stream: the REST endpoint or Prometheus Alertmanager.

    ``fingerprint`` identifies the condition: a repeat while it fires is one alert, and
    ``status="resolved"`` with the same fingerprint settles it."""

    NAME: ClassVar[str] = "alert.raised"

    source: Literal["api", "alertmanager"]
    sender_user_id: int
    sender_login: str
    status: Literal["firing", "resolved"] = "firing"
    severity: Severity = "warning"
    title: str = Field(min_length=1, max_length=256)
    text: str = Field("", max_length=8000)
    link: str | None = Field(None, max_length=1024)
    fingerprint: str = Field(min_length=1, max_length=160)
    idempotency_key: str | None = Field(None, max_length=200)


class WorkerCrashed(Payload):
    """An account's worker exited unexpectedly (the watchdog restarts or quarantines it)."""

    NAME: ClassVar[str] = "worker.crashed"

    account_id: int
    exit_code: int | None = None
    oom_killed: bool = False
    restarts: int = 0
    quarantined: bool = False
    log_tail: str = ""


class RunEnded(Payload):
    """A scripts-mode run finished (``run.finished``) or failed (``run.failed``)."""

    NAME: ClassVar[str] = "run.ended"

    run_id: int
    scene: str
    chat: str
    outcome: Literal["finished", "failed", "cancelled"]
    reason: str = ""


class TelegramUnlink(Payload):
    """A panel user's Telegram link is to be removed (their own wish, or an owner's)."""

    NAME: ClassVar[str] = "telegram.unlink"

    user_id: int
    by: str
