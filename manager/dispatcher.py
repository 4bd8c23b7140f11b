"""Hands due messages to their account's worker, and expires drafts nobody handled.

The database is the schedule: a message waits as ``scheduled`` with its ``send_after``; when due,
one transaction turns it ``queued``, gives it its idempotency key and puts ``command.send`` in the
outbox, so the command exists exactly when the decision does. Guardrails are checked once more at
this moment: someone who opted out or was handed to a person since the draft was made gets
nothing.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.bus import Bus
from core.db import Database
from core.db.models import Conversation, ConversationMessage
from core.events import Event, SendMessage, account_routing_key
from core.outbox import OutboxRelay, add_to_outbox
from core.topology import account_queue
from manager import contacts, store

log = logging.getLogger(__name__)
ALWAYS_SENT = ("opt_out_ack", "manual")  # kinds that go even to a handed-off or opted-out user


def idempotency_key(message: ConversationMessage) -> str:
    """One key per message (its conversation and turn slot are unique) and account: a message
    moved to another account is a new send. Known before the row is inserted."""
    return f"c{message.conversation_id}-s{message.slot}-a{message.account_id}"


class Dispatcher:
    def __init__(
        self, db: Database, bus: Bus, relay: OutboxRelay, *, every: float = 0.5, batch: int = 200
    ) -> None:
        self._db = db
        self._bus = bus
        self._relay = relay
        self._every = every
        self._batch = batch
        self._wake = asyncio.Event()
        self._declared: set[int] = set()

    def poke(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                while await self.dispatch_due() == self._batch:
                    pass
                await expire_drafts(self._db)
            except Exception:  # a database or broker outage must not end the schedule
                log.exception("dispatcher failed; retrying")
            try:
                await asyncio.wait_for(self._wake.wait(), self._every)
            except TimeoutError:
                pass
            self._wake.clear()

    async def dispatch_due(self) -> int:
        """Queue up to one batch of due messages; returns how many were looked at."""
        async with self._db.transaction() as session:
            query = (
                select(ConversationMessage)
                .where(
                    ConversationMessage.status == "scheduled",
                    ConversationMessage.send_after <= datetime.now(UTC),
                )
                .order_by(ConversationMessage.send_after, ConversationMessage.id)
                .limit(self._batch)
            )
            if not self._db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            due = list(await session.scalars(query))
            for message in due:
                conversation = await session.get(Conversation, message.conversation_id)
                assert conversation is not None  # noqa: S101 - messages cascade with it
                if await self._blocked(session, conversation, message):
                    continue
                await self._queue(session, conversation, message)
        if due:
            self._relay.poke()
        return len(due)

    async def send_now(
        self, session: AsyncSession, conversation: Conversation, message: ConversationMessage
    ) -> bool:
        """Queue a message that is due as it is decided, in the deciding transaction (saves a
        pass through the schedule); False when a guardrail stops it. The message may be new:
        it is inserted once, with its final status and key."""
        with session.no_autoflush:
            blocked = await self._blocked(session, conversation, message)
        if blocked:
            return False
        await self._queue(session, conversation, message)
        return True

    async def _blocked(
        self, session: AsyncSession, conversation: Conversation, message: ConversationMessage
    ) -> bool:
        if message.kind in ALWAYS_SENT:
            return False
        if await contacts.is_do_not_contact(session, conversation.telegram_user_id):
            reason = "the user opted out"
        elif conversation.status in ("handoff", "opted_out"):
            reason = f"conversation is {conversation.status}"
        else:
            return False
        message.status, message.reason = "cancelled", reason
        return True

    async def _queue(
        self, session: AsyncSession, conversation: Conversation, message: ConversationMessage
    ) -> None:
        assert message.account_id is not None  # noqa: S101 - set when scheduled
        if message.account_id not in self._declared:
            # The worker's queue may not exist yet (never started): declare it so the command
            # waits there instead of being unroutable.
            queue = account_queue(message.account_id)
            await self._bus.declare(queue, [account_routing_key(message.account_id, "#")])
            self._declared.add(message.account_id)
        message.status = "queued"
        message.idempotency_key = idempotency_key(message)
        await session.flush()  # the row's id, for the command
        command = SendMessage(
            idempotency_key=message.idempotency_key,
            account_id=message.account_id,
            campaign_id=conversation.campaign_id,
            conversation_id=conversation.id,
            message_id=message.id,
            peer_user_id=conversation.telegram_user_id,
            peer_username=conversation.username,
            text=message.text,
        )
        routing = account_routing_key(message.account_id, SendMessage.NAME)
        await add_to_outbox(session, Event.of(command), routing_key=routing)


async def expire_drafts(db: Database) -> int:
    """Drafts past their deadline expire: nothing is sent, the contact is free again."""
    async with db.transaction() as session:
        stale = list(
            await session.scalars(
                select(ConversationMessage).where(
                    ConversationMessage.status == "pending_approval",
                    ConversationMessage.expires_at <= datetime.now(UTC),
                )
            )
        )
        for message in stale:
            conversation = await store.locked_conversation(session, message.conversation_id)
            message.status = "expired"
            message.reason = "nobody approved it in time"
            if conversation.status == "awaiting_approval":
                conversation.status = "expired"
                if message.kind == "first":
                    await contacts.release_first_contact(
                        session, conversation.telegram_user_id, conversation.campaign_id
                    )
            await store.audit(
                session, "expired", actor="manager", conversation=conversation, message=message
            )
        return len(stale)
