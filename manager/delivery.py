"""What workers report back: a message went out, could not go, or an account was lost.

A lost account's conversations move to another manager account of their campaign. A command
that already sits in the lost account's queue is fenced before its message is rescheduled: the
manager writes its idempotency key as ``failed`` into ``sent_keys`` (where the worker records
keys before sending), so if that account ever comes back it will not send the old command. When
the worker got there first (``sending`` or ``sent``), the message is left alone.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.bus import PermanentError
from core.db import Database
from core.db.models import AuditEntry, Conversation, ConversationMessage, Lead, SentKey
from core.db.upsert import insert_ignore
from core.events import MessageSent, SendFailed
from manager import store
from manager.conversations import Conversations, hold_for_approval, schedule

log = logging.getLogger(__name__)
MESSAGES = cast(Table, ConversationMessage.__table__)
LEADS = cast(Table, Lead.__table__)
AUDIT = cast(Table, AuditEntry.__table__)


class Delivery:
    def __init__(self, db: Database, conversations: Conversations, *, paced: bool = True) -> None:
        self._db = db
        self._conversations = conversations
        self._paced = paced

    async def on_sent(self, sent: MessageSent) -> None:
        """Mark the message sent and write its audit row: four plain statements, since every
        DM passes here (no ORM unit of work needed)."""
        m = MESSAGES
        async with self._db.transaction() as session:
            # Only the first report changes the row: a redelivered one finds it sent already.
            row = (
                await session.execute(
                    update(m)
                    .where(m.c.id == sent.message_id, m.c.status != "sent")
                    .values(
                        status="sent",
                        sent_at=sent.sent_at,
                        telegram_message_id=sent.telegram_message_id,
                        account_id=sent.account_id,
                    )
                    .returning(
                        m.c.conversation_id,
                        m.c.template_version,
                        m.c.writer,
                        m.c.prompt_tokens,
                        m.c.completion_tokens,
                        m.c.approved_by,
                    )
                )
            ).first()
            if row is None:
                if await session.scalar(select(m.c.id).where(m.c.id == sent.message_id)) is None:
                    raise PermanentError(f"message {sent.message_id} does not exist")
                return
            campaign_id, lead_id = (
                await session.execute(
                    select(Conversation.campaign_id, Conversation.lead_id).where(
                        Conversation.id == row.conversation_id
                    )
                )
            ).one()
            await session.execute(
                update(LEADS)
                .where(LEADS.c.id == lead_id, LEADS.c.status.in_(("new", "contacting")))
                .values(status="contacted")
            )
            await session.execute(
                insert(AUDIT).values(
                    actor=f"account:{sent.account_id}",
                    action="sent",
                    campaign_id=campaign_id,
                    account_id=sent.account_id,
                    lead_id=lead_id,
                    conversation_id=row.conversation_id,
                    message_id=sent.message_id,
                    template_version=row.template_version,
                    writer=row.writer,
                    tokens=row.prompt_tokens + row.completion_tokens,
                    detail={"approved_by": row.approved_by},
                )
            )

    async def on_send_failed(self, failed: SendFailed) -> None:
        async with self._db.transaction() as session:
            message = await session.get(ConversationMessage, failed.message_id)
            if message is None:
                raise PermanentError(f"message {failed.message_id} does not exist")
            if message.idempotency_key != failed.idempotency_key:
                return  # stale: the message was moved and resent under another key
            if message.status != "queued":
                return
            conversation = await store.locked_conversation(session, message.conversation_id)
            await store.audit(
                session,
                "send_failed",
                actor=f"account:{failed.account_id}",
                conversation=conversation,
                message=message,
                reason=failed.reason,
            )
            if failed.reason == "forbidden":
                message.status, message.reason = "failed", "the user blocked us or forbids DMs"
                view = await store.campaign(session, conversation.campaign_id)
                await self._conversations.opt_out(
                    session, conversation, view.policy, reason="blocked us"
                )
            elif failed.reason == "not_found":
                message.status, message.reason = "failed", "no such user"
                conversation.status, conversation.reason = "failed", "no such user"
            else:
                await self._move(session, conversation, lost=failed.account_id)

    async def on_account_lost(self, account_id: int) -> None:
        """Every live conversation of a banned or revoked account moves to another account."""
        async with self._db.transaction() as session:
            # All of them locked first, in id order, before any account row: a concurrent
            # send_failed (one conversation, then an account) can then wait, not deadlock.
            conversations = list(
                await session.scalars(
                    select(Conversation)
                    .where(
                        Conversation.account_id == account_id,
                        Conversation.status.in_(store.LIVE),
                    )
                    .order_by(Conversation.id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            )
            for conversation in conversations:
                await self._move(session, conversation, lost=account_id)
        if conversations:
            log.info("account %s lost: %d conversations moved", account_id, len(conversations))

    async def _move(self, session: AsyncSession, conversation: Conversation, *, lost: int) -> None:
        view = await store.campaign(session, conversation.campaign_id)
        others = [a for a in await store.manager_accounts(session, view.id) if a != lost]
        if conversation.account_id == lost:
            conversation.account_id = others[0] if others else None
        unsent = list(
            await session.scalars(
                select(ConversationMessage).where(
                    ConversationMessage.conversation_id == conversation.id,
                    ConversationMessage.direction == "out",
                    ConversationMessage.status.in_(("scheduled", "queued")),
                    ConversationMessage.account_id == lost,
                )
            )
        )
        now = datetime.now(UTC)
        for message in unsent:
            if message.status == "queued" and not await _fence(session, message):
                continue  # the lost account's worker already took it
            message.idempotency_key = None
            if conversation.account_id is None:  # an operator decides, as for any held draft
                message.reason = "no active manager account left in the campaign"
                await hold_for_approval(session, conversation, message, view.policy, now=now)
                continue
            await schedule(session, conversation, message, view.policy, paced=self._paced, now=now)
            await store.audit(
                session,
                "moved",
                actor="manager",
                conversation=conversation,
                message=message,
                from_account=lost,
            )


async def _fence(session: AsyncSession, message: ConversationMessage) -> bool:
    """Make the old command unsendable; False when its worker already recorded it."""
    assert message.idempotency_key is not None  # noqa: S101 - queued messages have keys
    fenced = await insert_ignore(
        session,
        SentKey,
        {
            "idempotency_key": message.idempotency_key,
            "account_id": message.account_id,
            "peer_user_id": 0,
            "status": "failed",
        },
        returning=SentKey.idempotency_key,
    )
    if fenced is not None:
        return True
    status = await session.scalar(
        select(SentKey.status).where(SentKey.idempotency_key == message.idempotency_key)
    )
    return status == "failed"
