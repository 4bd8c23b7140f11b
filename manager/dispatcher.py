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
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.bus import Bus
from core.db import Database
from core.db.models import Campaign, Conversation, ConversationMessage
from core.events import Event, SendMessage, account_routing_key
from core.outbox import OutboxRelay, add_many_to_outbox
from core.topology import declare_account_queue
from core.waiting import wait_at_most
from manager import contacts, store
from manager.drafts import announce_decision

log = logging.getLogger(__name__)
ALWAYS_SENT = ("opt_out_ack", "manual")  # kinds that go even to a handed-off or opted-out user


def idempotency_key(message: ConversationMessage) -> str:
    """One key per message (its conversation and turn slot are unique), account and attempt: a
    message moved to another account, or handed back by a long FloodWait, is a new send. Known
    before the row is inserted."""
    key = f"c{message.conversation_id}-s{message.slot}-a{message.account_id}"
    return f"{key}-t{message.attempts}" if message.attempts else key


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
            await wait_at_most(self._wake.wait(), self._every)
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
            if due:
                ids = {message.conversation_id for message in due}
                found = await session.scalars(select(Conversation).where(Conversation.id.in_(ids)))
                conversations = {conversation.id: conversation for conversation in found}
                await self.queue(session, [(conversations[m.conversation_id], m) for m in due])
        if due:
            self._relay.poke()
        return len(due)

    async def queue(
        self,
        session: AsyncSession,
        due: Sequence[tuple[Conversation, ConversationMessage]],
    ) -> int:
        """Queue due messages in the caller's transaction: the guardrails once more, then each
        message ``queued`` with its key and its ``command.send`` in the outbox (one insert for
        all). Messages may be new: they are inserted once, with their final status and key.
        Returns how many were queued; the others were cancelled with the reason."""
        with session.no_autoflush:
            users = {c.telegram_user_id for c, m in due if m.kind not in ALWAYS_SENT}
            opted_out = await contacts.do_not_contact_among(session, users)
            stopped = await _stopped_among(session, {c.campaign_id for c, _ in due})
        ready = [(c, m) for c, m in due if not _blocked(c, m, opted_out, stopped)]
        for _, message in ready:
            assert message.account_id is not None  # noqa: S101 - set when scheduled
            await self._declare(message.account_id)
            message.status = "queued"
            message.idempotency_key = idempotency_key(message)
        await session.flush()  # the rows' ids, for the commands
        await add_many_to_outbox(session, [_command(c, m) for c, m in ready])
        return len(ready)

    async def _declare(self, account_id: int) -> None:
        """The worker's queue may not exist yet (never started): declare it so the command
        waits there instead of being unroutable."""
        if account_id not in self._declared:
            await declare_account_queue(self._bus, account_id)
            self._declared.add(account_id)


async def _stopped_among(session: AsyncSession, campaign_ids: set[int]) -> set[int]:
    query = select(Campaign.id).where(Campaign.id.in_(campaign_ids), Campaign.status == "stopped")
    return set(await session.scalars(query))


def _blocked(
    conversation: Conversation,
    message: ConversationMessage,
    opted_out: set[int],
    stopped: set[int],
) -> bool:
    if message.kind == "manual":
        return False  # an operator's own words go even in a stopped campaign
    if conversation.campaign_id in stopped:  # nothing automatic, not even an opt-out's thanks
        message.status, message.reason = "cancelled", "the campaign is stopped"
        return True
    if message.kind in ALWAYS_SENT:
        return False
    if conversation.telegram_user_id in opted_out:
        reason = "the user opted out"
    elif conversation.status in ("handoff", "opted_out"):
        reason = f"conversation is {conversation.status}"
    else:
        return False
    message.status, message.reason = "cancelled", reason
    return True


def _command(conversation: Conversation, message: ConversationMessage) -> tuple[Event, str]:
    assert message.account_id is not None and message.idempotency_key is not None  # noqa: S101
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
    return Event.of(command), account_routing_key(message.account_id, SendMessage.NAME)


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
            await announce_decision(session, conversation, message, "expired")
        return len(stale)
