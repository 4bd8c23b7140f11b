"""What workers report back: a message went out, could not go, or an account was lost.

A lost account's conversations move to another manager account of their campaign. A command
that already sits in the lost account's queue is fenced before its message is rescheduled: the
manager writes its idempotency key as ``failed`` into ``sent_keys`` (where the worker records
keys before sending), so if that account ever comes back it will not send the old command. When
the worker got there first (``sending`` or ``sent``), the message is left alone.

A PeerFlood is not a loss (the account stays active, limited for a while): the conversation whose
send it refused moves, and so do the account's other conversations whose first message is only
scheduled yet, so the limited account does not ask Telegram to write to strangers again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.batching import Batcher
from core.bus import PermanentError
from core.db import Database
from core.db.models import AuditEntry, Conversation, ConversationMessage, Lead, SentKey
from core.db.upsert import insert_ignore
from core.events import MessageSent, SendFailed
from manager import daily_counts, store
from manager.conversations import Conversations
from manager.drafts import hold_for_approval, schedule
from manager.scheduling import FIRST, SendPlanner

log = logging.getLogger(__name__)
MESSAGES = cast(Table, ConversationMessage.__table__)
LEADS = cast(Table, Lead.__table__)
AUDIT = cast(Table, AuditEntry.__table__)


class Delivery:
    def __init__(self, db: Database, conversations: Conversations, *, paced: bool = True) -> None:
        self._db = db
        self._conversations = conversations
        self._paced = paced
        self._sent: Batcher[MessageSent, None] = Batcher(self._record_sent, name="manager.sent")

    async def on_sent(self, sent: MessageSent) -> None:
        """Mark the message sent and write its audit row (every DM passes here, so reports that
        arrive together share one transaction of plain statements)."""
        await self._sent.submit(sent)

    async def _record_sent(self, batch: Sequence[MessageSent]) -> list[None | Exception]:
        m = MESSAGES
        async with self._db.transaction() as session:
            rows = {
                row.id: row
                for row in await session.execute(
                    select(
                        m.c.id,
                        m.c.status,
                        m.c.conversation_id,
                        m.c.kind,
                        m.c.template_version,
                        m.c.writer,
                        m.c.prompt_tokens,
                        m.c.completion_tokens,
                        m.c.approved_by,
                        Conversation.campaign_id,
                        Conversation.lead_id,
                    )
                    .join(Conversation, Conversation.id == m.c.conversation_id)
                    .where(m.c.id.in_({sent.message_id for sent in batch}))
                    .order_by(m.c.id)
                    .with_for_update(of=m)
                )
            }
            outcomes: list[None | Exception] = []
            fresh: dict[int, MessageSent] = {}  # the first report of each message not yet sent
            for sent in batch:
                row = rows.get(sent.message_id)
                if row is None:
                    outcomes.append(PermanentError(f"message {sent.message_id} does not exist"))
                    continue
                outcomes.append(None)  # a redelivered report finds its message sent already
                if row.status != "sent":
                    fresh.setdefault(sent.message_id, sent)
            if fresh:
                await _mark_sent(session, [(rows[i], sent) for i, sent in fresh.items()])
        return outcomes

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
            elif failed.reason == "flood_wait":
                _retry_later(message, failed)
            else:
                await _Move(session, lost=failed.account_id, paced=self._paced).move(conversation)
        if failed.reason == "peer_flood":
            await self._move_unopened(failed.account_id)

    async def _move_unopened(self, account_id: int) -> None:
        """The limited account's conversations whose first message is only scheduled move now;
        queued ones are its worker's already, and come back here if refused too."""
        unopened = select(ConversationMessage.conversation_id).where(
            ConversationMessage.account_id == account_id,
            ConversationMessage.direction == "out",
            ConversationMessage.kind == FIRST,
            ConversationMessage.status == "scheduled",
        )
        async with self._db.transaction() as session:
            # Conversations locked in id order before any account row, as on_account_lost does.
            conversations = await store.lock_conversations(
                session,
                Conversation.account_id == account_id,
                Conversation.status.in_(store.LIVE),
                Conversation.id.in_(unopened),
            )
            move = _Move(session, lost=account_id, paced=self._paced)
            for conversation in conversations:
                await move.move(conversation)
        if conversations:
            log.info("account %s limited: %d first DMs moved", account_id, len(conversations))

    async def on_account_lost(self, account_id: int) -> None:
        """Every live conversation of a banned or revoked account moves to another account."""
        async with self._db.transaction() as session:
            # All of them locked first, in id order, before any account row: a concurrent
            # send_failed (one conversation, then an account) can then wait, not deadlock.
            conversations = await store.lock_conversations(
                session,
                Conversation.account_id == account_id,
                Conversation.status.in_(store.LIVE),
            )
            move = _Move(session, lost=account_id, paced=self._paced)
            for conversation in conversations:
                await move.move(conversation)
        if conversations:
            log.info("account %s lost: %d conversations moved", account_id, len(conversations))


def _retry_later(message: ConversationMessage, failed: SendFailed) -> None:
    """Telegram made the account wait: the same account sends it when allowed, under a new key
    (the old one is ``failed`` at the worker, so that command can never send)."""
    now = datetime.now(UTC)
    message.attempts += 1
    message.idempotency_key = None
    message.status = "scheduled"
    message.send_after = max(failed.retry_after or now, now) + timedelta(seconds=1)
    message.reason = f"Telegram asked the account to wait ({failed.detail or 'flood wait'})"


async def _mark_sent(session: AsyncSession, reports: list[tuple[Row[Any], MessageSent]]) -> None:
    """Messages sent, their leads contacted, an audit row each, the first DMs in the daily
    counts: a few statements for all."""
    m = MESSAGES
    await session.execute(
        update(m)
        .where(m.c.id == bindparam("b_id"))
        .values(
            status="sent",
            sent_at=bindparam("b_sent_at"),
            telegram_message_id=bindparam("b_telegram_id"),
            account_id=bindparam("b_account"),
        ),
        [
            {
                "b_id": sent.message_id,
                "b_sent_at": sent.sent_at,
                "b_telegram_id": sent.telegram_message_id,
                "b_account": sent.account_id,
            }
            for _, sent in reports
        ],
    )
    await daily_counts.first_dms_sent(
        session,
        (
            (row.conversation_id, row.campaign_id, sent.sent_at, row.template_version)
            for row, sent in reports
            if row.kind == FIRST
        ),
    )
    await session.execute(
        update(LEADS)
        .where(
            LEADS.c.id.in_({row.lead_id for row, _ in reports}),
            LEADS.c.status.in_(("new", "contacting")),
        )
        .values(status="contacted")
    )
    await session.execute(
        insert(AUDIT),
        [
            {
                "actor": f"account:{sent.account_id}",
                "action": "sent",
                "campaign_id": row.campaign_id,
                "account_id": sent.account_id,
                "lead_id": row.lead_id,
                "conversation_id": row.conversation_id,
                "message_id": sent.message_id,
                "template_version": row.template_version,
                "writer": row.writer,
                "tokens": row.prompt_tokens + row.completion_tokens,
                "detail": {"approved_by": row.approved_by},
            }
            for row, sent in reports
        ],
    )


class _Move:
    """Moves conversations off a lost account in one transaction: to the campaign's least busy
    other account, send times from one planner."""

    def __init__(self, session: AsyncSession, *, lost: int, paced: bool) -> None:
        self._session = session
        self._lost = lost
        self._planner = SendPlanner(session, paced=paced, now=datetime.now(UTC))
        self._accounts: dict[int, store.LeastBusy] = {}
        self._views: dict[int, store.CampaignView] = {}

    async def move(self, conversation: Conversation) -> None:
        # Nothing is flushed until the planner has locked the account the work moves to: a
        # flushed conversation naming it takes a key-share lock on its row first, and two moves
        # to one account (concurrent send failures) would then deadlock upgrading that lock.
        with self._session.no_autoflush:
            await self._move(conversation)

    async def _move(self, conversation: Conversation) -> None:
        session = self._session
        campaign_id = conversation.campaign_id
        if campaign_id not in self._views:  # a lost account's conversations share campaigns
            self._views[campaign_id] = await store.campaign(session, campaign_id)
        view = self._views[campaign_id]
        if conversation.account_id == self._lost:
            others = await self._others(view.id)
            conversation.account_id = others.take() if others else None
        unsent = list(
            await session.scalars(
                select(ConversationMessage).where(
                    ConversationMessage.conversation_id == conversation.id,
                    ConversationMessage.direction == "out",
                    ConversationMessage.status.in_(("scheduled", "queued")),
                    ConversationMessage.account_id == self._lost,
                )
            )
        )
        for message in unsent:
            if message.status == "queued":
                if not await _fence(session, message):
                    continue  # the lost account's worker already took it
                # A new key even if it comes back to an account that had it: the old one is fenced.
                message.attempts += 1
            message.idempotency_key = None
            if conversation.account_id is None:  # an operator decides, as for any held draft
                message.reason = "no active manager account left in the campaign"
                now = self._planner.now
                await hold_for_approval(session, conversation, message, view.policy, now=now)
                continue
            await schedule(conversation, message, view.policy, self._planner)
            await store.audit(
                session,
                "moved",
                actor="manager",
                conversation=conversation,
                message=message,
                from_account=self._lost,
            )

    async def _others(self, campaign_id: int) -> store.LeastBusy:
        if campaign_id not in self._accounts:
            accounts = store.LeastBusy(await store.manager_load(self._session, campaign_id))
            accounts.drop(self._lost)
            self._accounts[campaign_id] = accounts
        return self._accounts[campaign_id]


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
