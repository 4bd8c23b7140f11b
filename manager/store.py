"""Reads and small writes the manager's steps share: campaign policy, accounts, history, audit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.bus import PermanentError
from core.db.models import (
    Account,
    AuditEntry,
    Campaign,
    CampaignAccount,
    Conversation,
    ConversationMessage,
    PromptTemplate,
)
from core.db.upsert import insert_ignore
from core.outreach import OutreachPolicy
from manager.prompts import Turn, template_version

LIVE = ("drafting", "awaiting_approval", "active")  # conversations we still write in


@dataclass(frozen=True)
class CampaignView:
    id: int
    name: str
    active: bool
    policy: OutreachPolicy
    llm_key_secret: str | None = None  # encrypted; decrypted only to call the LLM


_COLUMNS = (Campaign.id, Campaign.name, Campaign.status, Campaign.outreach, Campaign.llm_key_secret)
_POLICIES: dict[str, OutreachPolicy] = {}  # by settings JSON: validated once per process


async def campaign(session: AsyncSession, campaign_id: int) -> CampaignView:
    """The campaign's outreach view: one narrow query (no relationships), settings parsed once."""
    row = (await session.execute(select(*_COLUMNS).where(Campaign.id == campaign_id))).first()
    if row is None:
        raise PermanentError(f"campaign {campaign_id} does not exist")
    return CampaignView(
        row.id,
        row.name,
        row.status == "active",
        _policy(row.name, row.outreach),
        row.llm_key_secret,
    )


def _policy(name: str, raw: dict[str, Any] | None) -> OutreachPolicy:
    key = json.dumps(raw or {}, sort_keys=True)
    policy = _POLICIES.get(key)
    if policy is None:
        try:
            policy = OutreachPolicy.model_validate(raw or {})
        except ValidationError as exc:
            raise PermanentError(f"campaign {name} has invalid outreach settings: {exc}") from exc
        if len(_POLICIES) > 256:
            _POLICIES.clear()
        _POLICIES[key] = policy
    return policy


async def manager_accounts(session: AsyncSession, campaign_id: int) -> list[int]:
    """Active manager accounts of the campaign, the least busy first."""
    busy = (
        select(func.count(Conversation.id))
        .where(Conversation.account_id == Account.id, Conversation.status.in_(LIVE))
        .scalar_subquery()
    )
    rows = await session.scalars(
        select(Account.id)
        .join(CampaignAccount, CampaignAccount.account_id == Account.id)
        .where(
            CampaignAccount.campaign_id == campaign_id,
            CampaignAccount.role == "manager",
            Account.status == "active",
        )
        .order_by(busy, Account.id)
    )
    return list(rows)


async def locked_conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    query = (
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .with_for_update()
        .execution_options(populate_existing=True)  # fresh values, read under the lock
    )
    return (await session.scalars(query)).one()


async def history(session: AsyncSession, conversation_id: int) -> list[ConversationMessage]:
    """What was said so far: what the lead wrote and what we sent or are about to send."""
    rows = await session.scalars(
        select(ConversationMessage)
        .where(
            ConversationMessage.conversation_id == conversation_id,
            ConversationMessage.status.in_(("received", "scheduled", "queued", "sent")),
        )
        .order_by(ConversationMessage.id)
    )
    return list(rows)


def as_turns(messages: list[ConversationMessage]) -> tuple[Turn, ...]:
    return tuple(
        Turn(role="lead" if m.direction == "in" else "manager", text=m.text) for m in messages
    )


_REMEMBERED: set[tuple[int, str]] = set()  # known to be stored (committed by this process)


async def remember_template(session: AsyncSession, campaign_id: int, source: str) -> str:
    """Keep every prompt version a message was written with; once committed, this process
    skips the (idempotent) insert."""
    version = template_version(source)
    key = (campaign_id, version)
    if key not in _REMEMBERED:
        await insert_ignore(
            session,
            PromptTemplate,
            {"campaign_id": campaign_id, "version": version, "source": source},
        )
        event.listen(
            session.sync_session, "after_commit", lambda _s: _REMEMBERED.add(key), once=True
        )
    return version


async def audit(
    session: AsyncSession,
    action: str,
    *,
    actor: str,
    conversation: Conversation,
    message: ConversationMessage | None = None,
    **detail: Any,
) -> None:
    """Append one audit row; the outbound message's own row carries writer, version and tokens."""
    session.add(
        AuditEntry(
            actor=actor,
            action=action,
            campaign_id=conversation.campaign_id,
            account_id=message.account_id if message is not None else conversation.account_id,
            lead_id=conversation.lead_id,
            conversation_id=conversation.id,
            message_id=message.id if message is not None else None,
            template_version=message.template_version if message is not None else None,
            writer=message.writer if message is not None else None,
            tokens=(message.prompt_tokens + message.completion_tokens) if message else 0,
            detail=detail,
        )
    )
