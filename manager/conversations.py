"""The manager's decisions: a lead becomes a conversation, a reply becomes the next turn.

Every step is split around the LLM call: a short transaction decides and marks the conversation
(``drafting``), the writer runs with no transaction open, and a second short transaction stores
the draft and what happens to it (scheduled, or held for approval) together with its events.
Each step can be repeated after a crash or a redelivery: a conversation per lead and a message
per (conversation, direction, slot) are unique, so a repeat finds its work done.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.bus import PermanentError
from core.db import Database
from core.db.models import Conversation, ConversationMessage, Lead
from core.db.upsert import insert_ignore
from core.events import (
    ContactOptedOut,
    ConversationHandoff,
    DraftPending,
    Event,
    LeadFound,
    MessageIncoming,
)
from core.outbox import OutboxRelay, add_to_outbox
from core.outreach import OutreachPolicy
from core.security import SecretBox
from manager import contacts, store
from manager.handoff import asks_for_human
from manager.optout import OptOutDetector
from manager.prompts import Profile, Turn
from manager.scheduling import FIRST, send_time
from manager.writers import Draft, Writer, WriteRequest

log = logging.getLogger(__name__)
SYSTEM = "manager"
# Queue a due message's command.send in the caller's transaction; False when it may not go.
SendNow = Callable[[AsyncSession, Conversation, ConversationMessage], Awaitable[bool]]


def _profile(lead: Lead) -> Profile:
    raw = lead.profile or {}
    name = " ".join(str(raw.get(k) or "") for k in ("first_name", "last_name")).strip()
    return Profile(
        name=name, username=str(raw.get("username") or ""), bio=str(raw.get("bio") or "")
    )


def _opt_out_detector(policy: OutreachPolicy) -> OptOutDetector:
    if policy.opt_out_phrases is None:
        return OptOutDetector()
    return OptOutDetector(policy.opt_out_phrases)


class Conversations:
    def __init__(
        self,
        db: Database,
        relay: OutboxRelay,
        writer: Writer,
        *,
        paced: bool = True,
        wake_dispatcher: Callable[[], None] = lambda: None,
        box: SecretBox | None = None,
        send_now: SendNow | None = None,
    ) -> None:
        self._box = box
        self._send_now = send_now
        self._db = db
        self._relay = relay
        self._writer = writer
        self._paced = paced
        self._wake_dispatcher = wake_dispatcher

    # ---- a new lead ----------------------------------------------------------------------------

    async def on_lead(self, found: LeadFound) -> None:
        opened = await self._open(found)
        if opened is not None:
            await self._write_turn(*opened, slot=0, kind=FIRST)

    async def _open(self, found: LeadFound) -> tuple[int, WriteRequest] | None:
        """The conversation in ``drafting`` and what to write, when a first message is due."""
        async with self._db.transaction() as session:
            view = await store.campaign(session, found.campaign_id)
            existing = await session.scalar(
                select(Conversation).where(Conversation.lead_id == found.lead_id)
            )
            if existing is not None:
                if existing.status != "drafting" or existing.turns != 0:
                    return None
                return existing.id, await self._request(session, existing, view)  # resumed
            if not view.active:
                return None
            lead = await session.get(Lead, found.lead_id)
            if lead is None:
                raise PermanentError(f"lead {found.lead_id} does not exist")
            accounts = await store.manager_accounts(session, view.id)
            if not accounts:
                log.info(
                    "campaign %s has no active manager account; lead %s waits", view.name, lead.id
                )
                return None
            refusal = await contacts.reserve_first_contact(
                session,
                lead.telegram_user_id,
                view.id,
                window_days=view.policy.contact_window_days,
                now=datetime.now(UTC),
            )
            conversation_id = await insert_ignore(
                session,
                Conversation,
                {
                    "campaign_id": view.id,
                    "lead_id": lead.id,
                    "account_id": accounts[0],
                    "telegram_user_id": lead.telegram_user_id,
                    "username": lead.username,
                    "status": "skipped" if refusal else "drafting",
                    "reason": refusal,
                },
                returning=Conversation.id,
            )
            if conversation_id is None or refusal:
                return None
            return int(conversation_id), self._write_request(view, lead, history=(), stage=None)

    # ---- a reply -------------------------------------------------------------------------------

    async def on_reply(self, message: MessageIncoming) -> None:
        async with self._db.transaction() as session:
            conversation = await session.scalar(
                select(Conversation)
                .where(
                    Conversation.telegram_user_id == message.sender.user_id,
                    Conversation.account_id == message.account_id,
                )
                .order_by(Conversation.id.desc())
                .limit(1)
            )
            if conversation is None:
                return  # a DM from someone we never wrote to: not ours to answer
            conversation = await store.locked_conversation(session, conversation.id)
            stored = await insert_ignore(
                session,
                ConversationMessage,
                {
                    "conversation_id": conversation.id,
                    "direction": "in",
                    "slot": message.message_id,
                    "kind": "reply",
                    "text": message.text,
                    "status": "received",
                    "account_id": message.account_id,
                    "telegram_message_id": message.message_id,
                },
                returning=ConversationMessage.id,
            )
            if stored is None:
                return  # redelivered
            slot = await self._react(session, conversation, message.text)
            if slot is None:
                return
            view = await store.campaign(session, conversation.campaign_id)
            request = await self._request(session, conversation, view)
        await self._write_turn(conversation.id, request, slot=slot, kind="turn")

    async def _react(
        self, session: AsyncSession, conversation: Conversation, text: str
    ) -> int | None:
        """Opt-out, handoff or the end; else mark ``drafting`` and return the next turn's slot."""
        view = await store.campaign(session, conversation.campaign_id)
        conversation.updated_at = datetime.now(UTC)
        if _opt_out_detector(view.policy).is_opt_out(text):
            await self.opt_out(session, conversation, view.policy, reason="asked to stop")
            return None
        if conversation.status not in ("active", "drafting"):
            return None  # handed off, finished, opted out: stored for the operator, not answered
        if asks_for_human(text, view.policy.handoff_phrases):
            await handoff(session, conversation, reason="the lead asked for a person", by=SYSTEM)
            return None
        if conversation.turns >= view.policy.max_turns:
            conversation.status = "finished"
            conversation.reason = f"reached {view.policy.max_turns} turns"
            return None
        conversation.status = "drafting"
        return conversation.turns

    async def opt_out(
        self,
        session: AsyncSession,
        conversation: Conversation,
        policy: OutreachPolicy,
        *,
        reason: str,
    ) -> None:
        """Do-not-contact for every campaign, one confirmation, nothing else ever again."""
        first_time = conversation.status != "opted_out"
        user_id = conversation.telegram_user_id
        await contacts.mark_do_not_contact(session, user_id, reason)
        await cancel_pending(session, user_id, reason="opted out")
        await session.execute(  # every campaign's conversation with them ends here
            update(Conversation)
            .where(Conversation.telegram_user_id == user_id, Conversation.status.in_(store.LIVE))
            .values(status="opted_out", reason="opted out")
        )
        conversation.status = "opted_out"
        conversation.reason = reason
        if not first_time:
            return  # said again: already silent, already confirmed
        payload = ContactOptedOut(
            telegram_user_id=conversation.telegram_user_id,
            campaign_id=conversation.campaign_id,
            conversation_id=conversation.id,
            reason=reason,
        )
        await add_to_outbox(session, Event.of(payload))
        if reason != "blocked us":
            await self._confirm_opt_out(session, conversation, policy)
        self._relay.poke()

    async def _confirm_opt_out(
        self, session: AsyncSession, conversation: Conversation, policy: OutreachPolicy
    ) -> None:
        message = ConversationMessage(
            conversation_id=conversation.id,
            direction="out",
            slot=conversation.turns,
            kind="opt_out_ack",
            text=policy.opt_out_reply,
            status="scheduled",
            account_id=conversation.account_id,
            writer="opt-out confirmation",
            send_after=datetime.now(UTC),
        )
        conversation.turns += 1
        session.add(message)
        await session.flush()
        await store.audit(
            session,
            "opt_out_confirmation",
            actor=SYSTEM,
            conversation=conversation,
            message=message,
        )

    # ---- writing a turn ------------------------------------------------------------------------

    async def _write_turn(
        self, conversation_id: int, request: WriteRequest, *, slot: int, kind: str
    ) -> None:
        """Write with no transaction open, then store the draft and (when due) its send."""
        draft = await self._writer.write(request)
        async with self._db.transaction() as session:
            conversation = await store.locked_conversation(session, conversation_id)
            if conversation.status != "drafting" or conversation.turns != slot:
                return  # someone else wrote this turn, or the conversation moved on
            queued = await self._store_draft(
                session, conversation, request.policy, draft, kind=kind
            )
        self._relay.poke()
        if not queued:
            self._wake_dispatcher()

    async def _request(
        self, session: AsyncSession, conversation: Conversation, view: store.CampaignView
    ) -> WriteRequest:
        lead = await session.get(Lead, conversation.lead_id)
        assert lead is not None  # noqa: S101 - conversations cascade with their lead
        said = await store.history(session, conversation.id)
        return self._write_request(
            view, lead, history=store.as_turns(said), stage=conversation.stage
        )

    def _write_request(
        self,
        view: store.CampaignView,
        lead: Lead,
        *,
        history: tuple[Turn, ...],
        stage: str | None,
    ) -> WriteRequest:
        return WriteRequest(
            policy=view.policy,
            lead_message=lead.text,
            chat=lead.chat_ref or "",
            profile=_profile(lead),
            history=history,
            stage=stage,
            seed=lead.id,
            api_key=self._campaign_key(view),
        )

    def _campaign_key(self, view: store.CampaignView) -> SecretStr | None:
        if view.llm_key_secret is None or self._box is None:
            return None
        return SecretStr(self._box.decrypt(view.llm_key_secret))

    async def _store_draft(
        self,
        session: AsyncSession,
        conversation: Conversation,
        policy: OutreachPolicy,
        draft: Draft,
        *,
        kind: str,
    ) -> bool:
        """Store the draft: held for approval, scheduled, or (when due) queued at once; True
        when its send command was written."""
        now = datetime.now(UTC)
        if draft.writer.startswith("llm"):  # keep the prompt text its version names
            await store.remember_template(session, conversation.campaign_id, policy.prompt)
        held = list(draft.problems)
        if policy.approval:
            held.append("the campaign requires approval")
        message = ConversationMessage(
            conversation_id=conversation.id,
            direction="out",
            slot=conversation.turns,
            kind=kind,
            text=draft.text,
            status="pending_approval" if held else "scheduled",
            account_id=conversation.account_id,
            stage=draft.stage,
            template_version=draft.template_version,
            writer=draft.writer,
            prompt_tokens=draft.prompt_tokens,
            completion_tokens=draft.completion_tokens,
            cost=draft.cost,
            reason="; ".join(held) or None,
        )
        conversation.turns += 1
        conversation.stage = draft.stage
        conversation.updated_at = now
        session.add(message)
        if held:
            await session.flush()
            await hold_for_approval(session, conversation, message, policy, now=now)
            await store.audit(
                session, "held", actor=SYSTEM, conversation=conversation, message=message
            )
            return False
        with session.no_autoflush:  # the row is inserted once, with its time and status
            await schedule(session, conversation, message, policy, paced=self._paced, now=now)
        if draft.wants_human:
            reason = "the model saw a request for a person"
            await session.flush()
            await handoff(session, conversation, reason=reason, by=SYSTEM)
            return False
        if draft.stage == policy.final_stage:
            conversation.status = "finished"
            conversation.reason = "reached the final stage"
        due = message.send_after is not None and message.send_after <= datetime.now(UTC)
        if due and self._send_now is not None:
            return await self._send_now(session, conversation, message)
        return False


async def schedule(
    session: AsyncSession,
    conversation: Conversation,
    message: ConversationMessage,
    policy: OutreachPolicy,
    *,
    paced: bool,
    now: datetime,
) -> None:
    """Give the message its send time; the dispatcher sends it when due."""
    assert conversation.account_id is not None  # noqa: S101 - chosen when the conversation opened
    message.status = "scheduled"
    message.account_id = conversation.account_id
    message.send_after = await send_time(
        session,
        account_id=conversation.account_id,
        policy=policy,
        kind=message.kind,
        now=now,
        paced=paced,
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


async def handoff(
    session: AsyncSession, conversation: Conversation, *, reason: str, by: str
) -> None:
    """Stop automatic replies; a person takes the conversation from here."""
    if conversation.status == "handoff":
        return
    conversation.status = "handoff"
    conversation.reason = reason
    await cancel_pending(
        session, conversation.telegram_user_id, reason="handed off", only=conversation.id
    )
    payload = ConversationHandoff(
        conversation_id=conversation.id,
        campaign_id=conversation.campaign_id,
        lead_id=conversation.lead_id,
        reason=reason,
        by=by,
    )
    await add_to_outbox(session, Event.of(payload))
    await store.audit(session, "handoff", actor=by, conversation=conversation, reason=reason)


async def cancel_pending(
    session: AsyncSession, user_id: int, *, reason: str, only: int | None = None
) -> None:
    """Unsent messages to ``user_id`` (in every campaign, or one conversation) will not go."""
    ids = select(Conversation.id).where(Conversation.telegram_user_id == user_id)
    if only is not None:
        ids = ids.where(Conversation.id == only)
    await session.execute(
        update(ConversationMessage)
        .where(
            ConversationMessage.conversation_id.in_(ids),
            ConversationMessage.direction == "out",
            ConversationMessage.status.in_(("scheduled", "pending_approval")),
        )
        .values(status="cancelled", reason=reason)
    )
