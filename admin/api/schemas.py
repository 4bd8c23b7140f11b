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
