"""What the API returns. Secrets never appear here: accounts expose whether a session is stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from core.access import Role
from core.intent import IntentVerdict

T = TypeVar("T")


def _with_zone(value: datetime) -> datetime:
    # SQLite returns naive datetimes; every stored time is UTC, so say so (RFC 3339 needs it).
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Timestamp = Annotated[datetime, AfterValidator(_with_zone)]


class ErrorRead(BaseModel):
    """Every 4xx/5xx answer except 422: one sentence saying what went wrong."""

    detail: str


class FieldError(BaseModel):
    field: str = Field(description="the parameter or body field, dotted (text, items.0.name)")
    reason: str


class ValidationErrorRead(BaseModel):
    """A 422: each field that is wrong and why."""

    detail: list[FieldError]


class HealthRead(BaseModel):
    status: Literal["ok", "unavailable"]
    database: str | None = Field(None, description="why the database did not answer (503)")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class LeadRead(_Read):
    id: int
    campaign_id: int
    telegram_user_id: int
    username: str | None
    profile: dict[str, Any]
    chat_id: int
    chat_ref: str | None
    message_id: int
    text: str
    link: str | None
    keywords: list[str]
    hits: int
    status: str
    intent: IntentVerdict | None = Field(
        description="the second stage's verdict: lead, maybe, ask (an operator is asked), "
        "not_lead (an operator said so); null: the campaign's stage was off"
    )
    intent_score: float | None = Field(description="the model's probability of a lead, 0-1")
    intent_reason: str | None = Field(description="the signals that decided it")
    first_seen_at: Timestamp
    last_seen_at: Timestamp


class DeadLetterRead(BaseModel):
    queue: str
    routing_key: str
    reason: str
    deliveries: int
    dead_at: Timestamp
    body: str


class FindingRead(BaseModel):
    check: str = Field(description="which check, e.g. link.off_list or leak.instructions")
    reason: str
    route: Literal["person", "retry"] = Field(
        description="person: held for approval at once; retry: a fresh attempt may fix it"
    )


class AttemptRead(BaseModel):
    writer: str
    text: str
    findings: list[FindingRead]


class MessageRead(_Read):
    """One message of a conversation; outbound ones carry their audit fields."""

    id: int
    direction: str
    kind: str
    text: str
    status: str
    stage: str | None
    account_id: int | None
    telegram_message_id: int | None
    template_version: str | None
    writer: str | None
    prompt_tokens: int
    completion_tokens: int
    cost: float
    approved_by: str | None
    decided_by: str | None = Field(description="who approved or rejected it")
    decided_at: Timestamp | None
    draft_text: str | None = Field(description="the model's text, when an operator edited it")
    reason: str | None
    checks: list[AttemptRead] | None = Field(
        description="every text written for this turn and what the output checks found on it; "
        "null when the first one passed"
    )
    created_at: Timestamp
    send_after: Timestamp | None
    expires_at: Timestamp | None
    sent_at: Timestamp | None


class ConversationRead(_Read):
    id: int
    campaign_id: int
    lead_id: int
    account_id: int | None
    telegram_user_id: int
    username: str | None
    status: str
    stage: str | None
    turns: int
    reason: str | None
    created_at: Timestamp
    updated_at: Timestamp


class ConversationDetail(ConversationRead):
    messages: list[MessageRead]


class DraftRead(MessageRead):
    conversation_id: int


class OutreachUsage(BaseModel):
    """What a campaign's outreach did and cost."""

    campaign_id: int
    conversations: dict[str, int]
    messages_sent: int
    drafts_pending: int
    prompt_tokens: int
    completion_tokens: int
    cost: float


class UserRead(_Read):
    id: int
    login: str
    email: str | None
    role: Role
    disabled_at: Timestamp | None
    created_at: Timestamp


class TokenRead(_Read):
    id: int
    name: str
    hint: str = Field(description="the token's first characters, to tell tokens apart")
    scope: Literal["full", "alerts"] = Field(
        description="full: what the user's role allows; alerts: only POST /api/v1/alerts"
    )
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None


class TokenCreated(TokenRead):
    token: str = Field(description="shown this once; only its hash is kept")
