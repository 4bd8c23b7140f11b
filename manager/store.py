"""Reads and small writes the manager's steps share: campaign policy, accounts, history, audit."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, event, func, or_, select
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
    view = (await campaigns(session, [campaign_id])).get(campaign_id)
    if view is None:
        raise PermanentError(f"campaign {campaign_id} does not exist")
    return view


async def campaigns(session: AsyncSession, campaign_ids: Iterable[int]) -> dict[int, CampaignView]:
    """The outreach views of the campaigns that exist among ``campaign_ids``, in one query."""
    rows = await session.execute(select(*_COLUMNS).where(Campaign.id.in_(set(campaign_ids))))
    return {
        row.id: CampaignView(
            row.id,
            row.name,
            row.status == "active",
            _policy(row.name, row.outreach),
            row.llm_key_secret,
        )
        for row in rows
    }


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
    return [account_id for account_id, _ in await manager_load(session, campaign_id)]


def may_open_dialogs(now: datetime) -> ColumnElement[bool]:
    """An account that may write to a stranger now: not under a PeerFlood limit, and its own
    daily cap (when set) is not zero."""
    return or_(Account.peer_flood_until.is_(None), Account.peer_flood_until <= now) & or_(
        Account.daily_cap.is_(None), Account.daily_cap > 0
    )


async def manager_load(
    session: AsyncSession, campaign_id: int, *, now: datetime | None = None
) -> list[tuple[int, int]]:
    """Active manager accounts of the campaign with their live conversations, least busy first;
    an account that may not write to strangers now (``may_open_dialogs``) gets no new dialog."""
    busy = (
        select(func.count(Conversation.id))
        .where(Conversation.account_id == Account.id, Conversation.status.in_(LIVE))
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Account.id, busy)
        .join(CampaignAccount, CampaignAccount.account_id == Account.id)
        .where(
            CampaignAccount.campaign_id == campaign_id,
            CampaignAccount.role == "manager",
            Account.status == "active",
            may_open_dialogs(now or datetime.now(UTC)),
        )
        .order_by(busy, Account.id)
    )
    return [(int(account_id), int(load)) for account_id, load in rows]


class LeastBusy:
    """Hands out a campaign's manager accounts, the least busy first, counting what it gave."""

    def __init__(self, load: list[tuple[int, int]]) -> None:
        self._load = dict(load)

    def __bool__(self) -> bool:
        return bool(self._load)

    def take(self, *, counts: bool = True) -> int:
        account = min(self._load, key=lambda a: (self._load[a], a))
        if counts:
            self._load[account] += 1
        return account

    def drop(self, account_id: int) -> None:
        self._load.pop(account_id, None)


async def lock_conversations(
    session: AsyncSession, *criteria: ColumnElement[bool]
) -> list[Conversation]:
    """The conversations that match, locked in id order (two transactions never wait on each
    other in a circle) and read fresh under the lock."""
    query = (
        select(Conversation)
        .where(*criteria)
        .order_by(Conversation.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(await session.scalars(query))


async def locked_conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    (conversation,) = await lock_conversations(session, Conversation.id == conversation_id)
    return conversation


async def locked_conversations(
    session: AsyncSession, conversation_ids: Iterable[int]
) -> dict[int, Conversation]:
    locked = await lock_conversations(session, Conversation.id.in_(set(conversation_ids)))
    return {conversation.id: conversation for conversation in locked}


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
    in_this_transaction: set[tuple[int, str]] = session.info.setdefault("templates", set())
    if key not in _REMEMBERED and key not in in_this_transaction:
        await insert_ignore(
            session,
            PromptTemplate,
            {"campaign_id": campaign_id, "version": version, "source": source},
        )
        in_this_transaction.add(key)
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
    user_id: int | None = None,
    channel: str | None = None,
    **detail: Any,
) -> None:
    """Append one audit row; the outbound message's own row carries writer, version and tokens.
    ``user_id`` and ``channel`` name the authenticated person behind an operator's action."""
    session.add(
        AuditEntry(
            actor=actor,
            user_id=user_id,
            channel=channel,
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
