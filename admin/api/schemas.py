"""What the API returns. Secrets never appear here: accounts expose whether a session is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


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
    first_seen_at: datetime
    last_seen_at: datetime


class AccountRead(_Read):
    id: int
    name: str
    role: str
    status: str
    status_reason: str | None
    telegram_user_id: int | None
    has_session: bool
    has_proxy: bool
    chats: int


class ChatRead(_Read):
    id: int
    ref: str
    title: str | None
    telegram_chat_id: int | None
    listener_account_id: int | None


class CampaignRead(_Read):
    id: int
    name: str
    mode: str
    status: str
    keyword_sets: list[str]
    chats: list[str]
    parser_accounts: list[int]
    manager_accounts: list[int]
    leads: int


class DeadLetterRead(BaseModel):
    queue: str
    routing_key: str
    reason: str
    deliveries: int
    dead_at: datetime
    body: str


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
    reason: str | None
    created_at: datetime
    send_after: datetime | None
    expires_at: datetime | None
    sent_at: datetime | None


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
    created_at: datetime
    updated_at: datetime


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
