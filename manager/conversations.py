"""The manager's decisions: a lead becomes a conversation, a reply becomes the next turn.

Every step is split around the LLM call: a short transaction decides and marks the conversation
(``drafting``), the writer runs with no transaction open, and a second short transaction stores
the draft and what happens to it (scheduled, or held for approval) together with its events.
Leads and drafts that arrive together share those transactions (``manager.opening``,
``manager.drafts``); each caller still returns only once its own work has committed.
Each step can be repeated after a crash or a redelivery: a conversation per lead and a message
per (conversation, direction, slot) are unique, so a repeat finds its work done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import SecretStr
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.batching import Batcher
from core.db import Database
from core.db.models import (
    Account,
    Campaign,
    CampaignAccount,
    Conversation,
    ConversationMessage,
    Lead,
)
from core.db.upsert import insert_ignore
from core.events import ContactOptedOut, ConversationReply, Event, LeadFound, MessageIncoming
from core.intent import WRITES_TO
from core.lead_found import found_again
from core.outbox import OutboxRelay, add_to_outbox
from core.outreach import OutreachPolicy
from core.security import SecretBox
from manager import contacts, daily_counts, store
from manager.drafts import DraftStore, QueueDue, Written
from manager.handoff import asks_for_human, cancel_pending, handoff
from manager.opening import WAITING, Opening, open_conversations
from manager.optout import OptOutDetector
from manager.prompts import Profile, Turn
from manager.scheduling import FIRST
from manager.writers import Writer, WriteRequest

log = logging.getLogger(__name__)
SYSTEM = "manager"
RESUME_PAGE = 500  # waiting leads opened together
RESUME_PAGES = 20
_WRITTEN_VERDICTS = sorted(v for v in WRITES_TO if v is not None)  # and NULL: the stage was off


def _profile(lead: Lead) -> Profile:
    raw = lead.profile or {}
    name = " ".join(str(raw.get(k) or "") for k in ("first_name", "last_name")).strip()
    return Profile(
        name=name, username=str(raw.get("username") or ""), bio=str(raw.get("bio") or "")
    )


async def _stopped(session: AsyncSession, campaign_id: int) -> bool:
    status = await session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
    return status == "stopped"


def _opt_out_detector(policy: OutreachPolicy) -> OptOutDetector:
    if policy.opt_out_phrases is None:
        return OptOutDetector()
    return OptOutDetector(policy.opt_out_phrases)


@dataclass(frozen=True)
class _Turn:
    """A turn to write: the conversation is ``drafting`` and this is what the writer gets."""

    conversation_id: int
    request: WriteRequest


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
        queue: QueueDue | None = None,
    ) -> None:
        self._box = box
        self._db = db
        self._relay = relay
        self._writer = writer
        self._drafts = DraftStore(
            db,
            relay,
            paced=paced,
            queue=queue,
            wake_dispatcher=wake_dispatcher,
            opt_out=self.opt_out,
        )
        self._opening: Batcher[LeadFound, _Turn | None] = Batcher(self._open, name="manager.leads")
        self._resuming: asyncio.Task[None] | None = None
        self._resume_again = False

    async def close(self) -> None:
        if self._resuming is not None:
            self._resuming.cancel()
            await asyncio.gather(self._resuming, return_exceptions=True)

    # ---- a new lead ----------------------------------------------------------------------------

    async def on_lead(self, found: LeadFound) -> None:
        if found.intent not in WRITES_TO:
            return  # "maybe", "ask", "not_lead": nobody writes until an operator says "lead"
        turn = await self._opening.submit(found)
        if turn is not None:
            await self._write_turn(turn.conversation_id, turn.request, slot=0, kind=FIRST)

    async def _open(self, batch: Sequence[LeadFound]) -> list[_Turn | None | Exception]:
        """Open the batch's conversations; for each lead, the first turn to write, if any."""
        async with self._db.transaction() as session:
            openings = await open_conversations(session, batch, now=datetime.now(UTC))
            return [
                await self._first_turn(session, o) if isinstance(o, Opening) else o
                for o in openings
            ]

    def resume_waiting_soon(self) -> None:
        """Resume waiting leads in the background (the settings changed: a campaign may have an
        account now); one run at a time, and one more when asked again meanwhile."""
        self._resume_again = True
        if self._resuming is None or self._resuming.done():
            self._resuming = asyncio.create_task(self._resume_while_asked(), name="resume-waiting")

    async def _resume_while_asked(self) -> None:
        while self._resume_again:
            self._resume_again = False
            try:
                for _ in range(RESUME_PAGES):  # bounded: a lead that keeps failing stays waiting
                    if await self.resume_waiting() < RESUME_PAGE:
                        break
            except Exception:  # the next settings change, or the next start, tries again
                log.exception("waiting leads could not be resumed")

    async def resume_waiting(self, *, limit: int = RESUME_PAGE) -> int:
        """Leads parked while their campaign had no manager account are opened, now that it has
        one (they go through ``on_lead`` together, so they share its batches); returns how many
        were picked up."""
        writable = (
            select(CampaignAccount.campaign_id)
            .join(Account, Account.id == CampaignAccount.account_id)
            .join(Campaign, Campaign.id == CampaignAccount.campaign_id)
            .where(
                CampaignAccount.role == "manager",
                Account.status == "active",
                Campaign.status == "active",
            )
        )
        async with self._db.session() as session:
            leads = list(
                await session.scalars(
                    select(Lead)
                    .join(Conversation, Conversation.lead_id == Lead.id)
                    .where(
                        Conversation.status == WAITING,
                        Lead.campaign_id.in_(writable),
                        # an operator may have said "not a lead" while it waited
                        or_(Lead.intent.is_(None), Lead.intent.in_(_WRITTEN_VERDICTS)),
                    )
                    .order_by(Conversation.id)
                    .limit(limit)
                )
            )
        results = await asyncio.gather(
            *(self.on_lead(found_again(lead)) for lead in leads), return_exceptions=True
        )
        for lead, result in zip(leads, results, strict=True):
            if isinstance(result, Exception):
                log.warning("waiting lead %s not resumed: %s", lead.id, result)
        if leads:
            log.info("%d waiting lead(s) resumed", len(leads))
        return len(leads)

    async def _first_turn(self, session: AsyncSession, opening: Opening) -> _Turn:
        history: tuple[Turn, ...] = ()
        if opening.resumed:  # a crash left it drafting: say nothing twice
            history = store.as_turns(await store.history(session, opening.conversation_id))
        request = self._write_request(opening.view, opening.lead, history=history, stage=None)
        return _Turn(opening.conversation_id, request)

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
            await daily_counts.reply_received(
                session, conversation.campaign_id, conversation.id, stored
            )
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
        if conversation.status == "handoff":
            await _tell_the_person(session, conversation, text)
            return None
        if conversation.status not in ("active", "drafting"):
            return None  # finished, opted out: stored for the operator, not answered
        if await _stopped(session, conversation.campaign_id):
            return None  # a stopped campaign writes nothing more: the reply waits for a person
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
        confirm: bool = True,
    ) -> None:
        """Do-not-contact for every campaign, one confirmation (none when ``confirm`` is false
        or they blocked us), nothing else ever again. Phrases, the model's ``opted_out``
        (``manager.drafts``) and a block all come here."""
        first_time = conversation.status != "opted_out"
        user_id = conversation.telegram_user_id
        await contacts.mark_do_not_contact(session, user_id, reason)
        await cancel_pending(session, user_id, reason="opted out")
        ended = await session.execute(  # every campaign's conversation with them ends here
            update(Conversation)
            .where(Conversation.telegram_user_id == user_id, Conversation.status.in_(store.LIVE))
            .values(status="opted_out", reason="opted out")
            .returning(Conversation.id, Conversation.campaign_id)
        )
        campaigns: dict[int, int] = {row.id: row.campaign_id for row in ended}
        if first_time:  # this one too when it had ended otherwise (finished, handed off)
            campaigns[conversation.id] = conversation.campaign_id
        await daily_counts.opted_out(session, campaigns.values(), now=datetime.now(UTC))
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
        if confirm and reason != "blocked us":
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
        await self._drafts.store(Written(conversation_id, slot, kind, request.policy, draft))

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


async def _tell_the_person(session: AsyncSession, conversation: Conversation, text: str) -> None:
    """A conversation with a person: the reply is theirs to answer (the notifier forwards it)."""
    reply = ConversationReply(
        conversation_id=conversation.id,
        campaign_id=conversation.campaign_id,
        lead_id=conversation.lead_id,
        telegram_user_id=conversation.telegram_user_id,
        text=text,
        at=datetime.now(UTC),
    )
    await add_to_outbox(session, Event.of(reply))
