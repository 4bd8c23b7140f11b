"""Written drafts become outbound messages: held for approval, scheduled, or queued at once.

Drafts that come back from the writer together are stored in one transaction: their
conversations locked in one query, send times from one planner, the due ones queued with one
insert of their commands. A draft whose conversation moved on meanwhile (another turn was
written, the lead opted out, a person took over) is dropped, except that an opt-out the model
read in it still counts: it goes the way of an opt-out phrase, never out as a message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from core.batching import Batcher
from core.db import Database
from core.db.models import Conversation, ConversationMessage
from core.events import DraftDecided, DraftDecision, DraftPending, Event
from core.outbox import OutboxRelay, add_to_outbox
from core.outreach import OutreachPolicy
from manager import daily_counts, store
from manager.handoff import handoff
from manager.scheduling import FIRST, SendPlanner
from manager.writers import Draft

Decision = DraftDecision

SYSTEM = "manager"
MODEL_OPT_OUT = "asked to stop (read by the model)"
# Queue due messages in the caller's transaction; returns how many may go.
Due = Sequence[tuple[Conversation, ConversationMessage]]
QueueDue = Callable[[AsyncSession, Due], Awaitable[int]]


class OptOut(Protocol):
    """Opt the conversation's user out in the caller's transaction (``Conversations.opt_out``,
    the one path every opt-out takes)."""

    async def __call__(
        self,
        session: AsyncSession,
        conversation: Conversation,
        policy: OutreachPolicy,
        *,
        reason: str,
        confirm: bool = ...,
    ) -> None: ...


@dataclass(frozen=True)
class Written:
    """A draft for turn ``slot`` of a conversation."""

    conversation_id: int
    slot: int
    kind: str
    policy: OutreachPolicy
    draft: Draft


class DraftStore:
    def __init__(
        self,
        db: Database,
        relay: OutboxRelay,
        *,
        paced: bool,
        queue: QueueDue | None,
        wake_dispatcher: Callable[[], None],
        opt_out: OptOut,
    ) -> None:
        self._db = db
        self._relay = relay
        self._opt_out = opt_out
        self._paced = paced
        self._queue = queue
        self._wake_dispatcher = wake_dispatcher
        self._batcher: Batcher[Written, None] = Batcher(self._store_batch, name="manager.drafts")

    async def store(self, written: Written) -> None:
        await self._batcher.submit(written)

    async def _store_batch(self, batch: Sequence[Written]) -> list[None]:
        async with self._db.transaction() as session:
            now = datetime.now(UTC)
            conversations = await store.locked_conversations(
                session, {w.conversation_id for w in batch}
            )
            planner = SendPlanner(session, paced=self._paced, now=now)
            stored, due = 0, []
            for written in batch:
                conversation = conversations.get(written.conversation_id)
                if conversation is None:
                    continue  # deleted meanwhile (its campaign or lead was removed)
                if written.draft.opted_out:  # even if it moved on: an opt-out is never lost
                    stored += 1  # its confirmation, if any, waits for the dispatcher
                    await self._model_opt_out(session, conversation, written, now)
                    continue
                if conversation.status != "drafting" or conversation.turns != written.slot:
                    continue  # someone else wrote this turn, or the conversation moved on
                stored += 1
                message = await self._place(session, conversation, written, planner)
                if message is not None:
                    due.append((conversation, message))
            queued = await self._queue(session, due) if due and self._queue else 0
        self._relay.poke()
        if queued < stored:
            self._wake_dispatcher()
        return [None] * len(batch)

    async def _model_opt_out(
        self, session: AsyncSession, conversation: Conversation, written: Written, now: datetime
    ) -> None:
        """The model read an opt-out the phrase list missed: the same path as a detected phrase
        (do-not-contact for every campaign, nothing unsent goes, ``contact.opted_out``).

        The draft's own text is dropped, never sent nor held: it was written as the next sales
        turn, and a lead who asked to be left alone expects one short acknowledgement, not a
        pitch. So they get only the campaign's fixed confirmation, once, in this turn's slot; and
        none at all when this was to be the first message (they never wrote to us, so even "I
        won't write again" would be an unsolicited DM).
        """
        conversation.updated_at = now
        await self._opt_out(
            session,
            conversation,
            written.policy,
            reason=MODEL_OPT_OUT,
            confirm=written.kind != FIRST,
        )

    async def _place(
        self,
        session: AsyncSession,
        conversation: Conversation,
        written: Written,
        planner: SendPlanner,
    ) -> ConversationMessage | None:
        """Add the draft's message to the conversation; the message when it is due now."""
        draft, policy = written.draft, written.policy
        if draft.writer.startswith("llm"):  # keep the prompt text its version names
            await store.remember_template(session, conversation.campaign_id, policy.prompt)
        held = list(draft.problems)
        if policy.approval:
            held.append("the campaign requires approval")
        message = _message(conversation, written, reason="; ".join(held) or None)
        await daily_counts.message_written(
            session, conversation.campaign_id, message, now=planner.now
        )
        conversation.turns += 1
        conversation.stage = draft.stage
        conversation.updated_at = planner.now
        session.add(message)
        if held:
            await session.flush()
            await hold_for_approval(session, conversation, message, policy, now=planner.now)
            await store.audit(
                session, "held", actor=SYSTEM, conversation=conversation, message=message
            )
            return None
        await schedule(conversation, message, policy, planner)
        if draft.wants_human:
            await session.flush()
            reason = "the model saw a request for a person"
            await handoff(session, conversation, reason=reason, by=SYSTEM)
            return None
        if draft.stage == policy.final_stage:
            conversation.status = "finished"
            conversation.reason = "reached the final stage"
        assert message.send_after is not None  # noqa: S101 - schedule() set it
        return message if message.send_after <= datetime.now(UTC) else None


def _message(
    conversation: Conversation, written: Written, *, reason: str | None
) -> ConversationMessage:
    draft = written.draft
    return ConversationMessage(
        conversation_id=conversation.id,
        direction="out",
        slot=conversation.turns,
        kind=written.kind,
        text=draft.text,
        status="pending_approval" if reason else "scheduled",
        account_id=conversation.account_id,
        stage=draft.stage,
        template_version=draft.template_version,
        writer=draft.writer,
        prompt_tokens=draft.prompt_tokens,
        completion_tokens=draft.completion_tokens,
        cost=draft.cost,
        reason=reason,
        checks=draft.checks_record(),
    )


async def schedule(
    conversation: Conversation,
    message: ConversationMessage,
    policy: OutreachPolicy,
    planner: SendPlanner,
) -> None:
    """Give the message its send time; the dispatcher sends it when due."""
    assert conversation.account_id is not None  # noqa: S101 - chosen when the conversation opened
    message.status = "scheduled"
    message.account_id = conversation.account_id
    message.send_after = await planner.send_time(
        account_id=conversation.account_id, policy=policy, kind=message.kind
    )
    if conversation.status in ("drafting", "awaiting_approval"):
        conversation.status = "active"


async def hold_for_approval(
    session: AsyncSession,
    conversation: Conversation,
    message: ConversationMessage,
    policy: OutreachPolicy,
    *,
    now: datetime,
) -> None:
    message.status = "pending_approval"
    message.expires_at = now + timedelta(hours=policy.approval_hours)
    conversation.status = "awaiting_approval"
    pending = DraftPending(
        message_id=message.id,
        conversation_id=conversation.id,
        campaign_id=conversation.campaign_id,
        lead_id=conversation.lead_id,
        text=message.text,
        reason=message.reason or "approval required",
        expires_at=message.expires_at,
    )
    await add_to_outbox(session, Event.of(pending))


async def announce_decision(
    session: AsyncSession,
    conversation: Conversation,
    message: ConversationMessage,
    decision: Decision,
) -> None:
    """Tell whoever asked for approval (the notifier's alert, the panel) that it is settled."""
    decided = DraftDecided(
        message_id=message.id,
        conversation_id=conversation.id,
        campaign_id=conversation.campaign_id,
        decision=decision,
        by=message.decided_by or "manager",
        at=message.decided_at or datetime.now(UTC),
    )
    await add_to_outbox(session, Event.of(decided))
