"""What an operator can do to outreach, carried out by the manager, the one writer of conversations.

The admin API and the notifier bot send an ``OperatorCommand`` (``core.operator_commands``); the
manager serves it here in one transaction that also writes the audit row (authenticated actor and
channel) and the events, and answers with an ``OperatorResult``. Concurrent commands on one draft
lock its conversation, so exactly one wins; the others learn who won and when.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import Actor
from core.audit import record
from core.db import Database
from core.db.models import (
    Account,
    Contact,
    Conversation,
    ConversationMessage,
    Lead,
)
from core.events import ConversationHandedBack, Event
from core.operator_commands import OperatorCommand, OperatorResult, Outcome
from core.outbox import add_to_outbox
from core.outreach import OutreachPolicy
from manager import contacts, store
from manager.do_not_contact import put_on_list
from manager.drafts import Decision, announce_decision, schedule
from manager.guardrails import campaign_instructions, check_draft, output_policy
from manager.handoff import handoff
from manager.scheduling import SendPlanner

TAKEN_OVER_BY = "taken over by "  # the reason of a conversation a person holds


class Refused(Exception):
    """The command cannot be carried out; ``outcome`` says why in one word."""

    def __init__(
        self, detail: str, *, outcome: Outcome = "conflict", problems: list[str] | None = None
    ) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.problems = problems or []


def _when(at: datetime | None) -> str:
    if at is None:
        return "an unknown time"
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


class OperatorDesk:
    """Carries out operator commands; ``wake`` tells the dispatcher something is due now."""

    def __init__(self, db: Database, *, wake: Callable[[], None], paced: bool = True) -> None:
        self._db = db
        self._wake = wake
        self._paced = paced
        actions: dict[str, Callable[[AsyncSession, OperatorCommand], Awaitable[OperatorResult]]]
        actions = {
            "approve": self._approve,
            "reject": self._reject,
            "take_over": self._take_over,
            "hand_back": self._hand_back,
            "write": self._write,
            "do_not_contact": self._do_not_contact,
            "do_not_contact_many": self._do_not_contact_many,
            "allow_contact": self._allow_contact,
        }
        self._actions = actions

    async def handle(self, command: OperatorCommand) -> OperatorResult:
        try:
            async with self._db.transaction() as session:
                result = await self._actions[command.action](session, command)
        except Refused as refused:
            return OperatorResult(
                outcome=refused.outcome,
                detail=str(refused),
                problems=refused.problems,
                message_id=command.message_id,
                conversation_id=command.conversation_id,
            )
        self._wake()
        return result

    # ---- drafts ------------------------------------------------------------------------------

    async def _draft(
        self, session: AsyncSession, message_id: int | None
    ) -> tuple[ConversationMessage, Conversation]:
        message = await session.get(ConversationMessage, message_id) if message_id else None
        if message is None or message.direction != "out":
            raise Refused(f"draft {message_id} does not exist", outcome="missing")
        conversation = await store.locked_conversation(session, message.conversation_id)
        await session.refresh(message)
        if message.status != "pending_approval":
            raise Refused(_decided(message))
        return message, conversation

    async def _approve(self, session: AsyncSession, command: OperatorCommand) -> OperatorResult:
        """Send the draft (as edited, when text is given) at the account's next allowed time."""
        message, conversation = await self._draft(session, command.message_id)
        await _still_writable(session, conversation)
        view = await store.campaign(session, conversation.campaign_id)
        edited = command.text.strip() if command.text is not None else None
        if edited is not None and edited != message.text:
            problems = await _check_edit(session, conversation, view.policy, edited, command)
            message.draft_text = message.text  # the model's draft, kept beside the edit
            message.text = edited
            if problems:
                await _audit(session, "checks_overridden", command, conversation, message, problems)
        if not message.text.strip():
            raise Refused("the draft is empty: edit it before approving")
        if conversation.account_id is None:
            accounts = await store.manager_accounts(session, view.id)
            if not accounts:
                raise Refused("the campaign has no active manager account to send from")
            conversation.account_id = accounts[0]
        now = datetime.now(UTC)
        message.approved_by = message.decided_by = command.actor.login
        message.decided_at = now
        message.reason = None
        planner = SendPlanner(session, paced=self._paced, now=now)
        await schedule(conversation, message, view.policy, planner)
        action: Decision = "edited_and_approved" if message.draft_text is not None else "approved"
        await _audit(session, action, command, conversation, message)
        await announce_decision(session, conversation, message, action)
        return _done(conversation, message)

    async def _reject(self, session: AsyncSession, command: OperatorCommand) -> OperatorResult:
        """Nothing is sent; a rejected first message frees the contact for other campaigns."""
        message, conversation = await self._draft(session, command.message_id)
        by = command.actor.login
        message.status = "rejected"
        message.reason = command.reason or f"rejected by {by}"
        message.decided_by, message.decided_at = by, datetime.now(UTC)
        conversation.status = "rejected"
        conversation.reason = message.reason
        if message.kind == "first":
            await contacts.release_first_contact(
                session, conversation.telegram_user_id, conversation.campaign_id
            )
        await _audit(session, "rejected", command, conversation, message)
        await announce_decision(session, conversation, message, "rejected")
        return _done(conversation, message)

    # ---- conversations -----------------------------------------------------------------------

    async def _take_over(self, session: AsyncSession, command: OperatorCommand) -> OperatorResult:
        conversation = await _conversation(session, command.conversation_id)
        if conversation.status == "handoff":
            if (conversation.reason or "").startswith(TAKEN_OVER_BY):
                raise Refused(
                    f"conversation {conversation.id} is already with a person: "
                    f"{conversation.reason}"
                )
            # Automation handed it to "a person" (the lead asked for one): this one claims it.
            conversation.status = "active"
        if conversation.status == "opted_out":
            raise Refused("the user opted out; the conversation is closed")
        actor = command.actor
        await handoff(
            session,
            conversation,
            reason=f"{TAKEN_OVER_BY}{actor.login}",
            by=actor.login,
            user_id=actor.user_id,
            channel=actor.channel,
        )
        return _done(conversation)

    async def _hand_back(self, session: AsyncSession, command: OperatorCommand) -> OperatorResult:
        """Automation answers this conversation's next reply again."""
        conversation = await _conversation(session, command.conversation_id)
        if conversation.status != "handoff":
            raise Refused(
                f"conversation {conversation.id} is {conversation.status}, not with a person"
            )
        await _still_writable(session, conversation)
        conversation.status = "active"
        conversation.reason = f"handed back by {command.actor.login}"
        await _audit(session, "handed_back", command, conversation)
        back = ConversationHandedBack(
            conversation_id=conversation.id,
            campaign_id=conversation.campaign_id,
            by=command.actor.login,
        )
        await add_to_outbox(session, Event.of(back))
        return _done(conversation)

    async def _write(self, session: AsyncSession, command: OperatorCommand) -> OperatorResult:
        """An operator's own message in a conversation they took over; sent at once, no pacing."""
        text = (command.text or "").strip()
        if not text:
            raise Refused("the message is empty")
        conversation = await _conversation(session, command.conversation_id)
        if conversation.status != "handoff":
            raise Refused("take the conversation over before writing in it by hand")
        await _still_writable(session, conversation)
        view = await store.campaign(session, conversation.campaign_id)
        problems = await _check_edit(session, conversation, view.policy, text, command)
        by = command.actor.login
        message = ConversationMessage(
            conversation_id=conversation.id,
            direction="out",
            slot=conversation.turns,
            kind="manual",
            text=text,
            status="scheduled",
            account_id=conversation.account_id,
            writer=f"operator:{by}",
            approved_by=by,
            decided_by=by,
            decided_at=datetime.now(UTC),
            send_after=datetime.now(UTC),
        )
        conversation.turns += 1
        session.add(message)
        await session.flush()
        if problems:
            await _audit(session, "checks_overridden", command, conversation, message, problems)
        await _audit(session, "manual", command, conversation, message)
        return _done(conversation, message)

    # ---- the do-not-contact list ---------------------------------------------------------------

    async def _do_not_contact(
        self, session: AsyncSession, command: OperatorCommand
    ) -> OperatorResult:
        """No campaign writes to this person again; nothing pending goes; no confirmation."""
        user_id = _user(command)
        reason = command.reason or f"added by {command.actor.login}"
        await put_on_list(session, command.actor, {user_id: reason})
        done = f"user {user_id} is on the do-not-contact list"
        return OperatorResult(outcome="done", detail=done)

    async def _do_not_contact_many(
        self, session: AsyncSession, command: OperatorCommand
    ) -> OperatorResult:
        """A batch of a list import, all or nothing; the first reason given for a person counts."""
        if not command.entries:
            raise Refused("no people to add", outcome="missing")
        reasons: dict[int, str] = {}
        for entry in command.entries:
            reasons.setdefault(entry.telegram_user_id, entry.reason)
        added = await put_on_list(session, command.actor, reasons)
        done = f"{len(reasons)} people are on the do-not-contact list ({added} newly)"
        return OperatorResult(outcome="done", detail=done)

    async def _allow_contact(
        self, session: AsyncSession, command: OperatorCommand
    ) -> OperatorResult:
        """Off the list: new campaigns may write again; ended conversations stay ended."""
        user_id = _user(command)
        contact = await session.get(Contact, user_id)
        if contact is None or not contact.do_not_contact:
            raise Refused(f"user {user_id} is not on the do-not-contact list", outcome="missing")
        contact.do_not_contact = False
        contact.dnc_reason = contact.dnc_at = None
        record(session, "allow_contact", actor=command.actor, telegram_user_id=user_id)
        return OperatorResult(outcome="done", detail=f"user {user_id} may be contacted again")


def _decided(message: ConversationMessage) -> str:
    """Why a draft no longer waits, naming who decided and when."""
    if message.status in ("scheduled", "queued", "sent") and message.decided_by:
        return (
            f"draft {message.id} was already approved by {message.decided_by} "
            f"at {_when(message.decided_at)}"
        )
    if message.status == "rejected" and message.decided_by:
        return (
            f"draft {message.id} was already rejected by {message.decided_by} "
            f"at {_when(message.decided_at)}"
        )
    if message.status == "expired":
        return f"draft {message.id} expired at {_when(message.expires_at)} without a decision"
    detail = f": {message.reason}" if message.reason else ""
    return f"draft {message.id} is {message.status}, not waiting for approval{detail}"


async def _still_writable(session: AsyncSession, conversation: Conversation) -> None:
    """Refuse a send to someone who opted out, or from an account that was lost meanwhile."""
    if conversation.status == "opted_out" or await contacts.is_do_not_contact(
        session, conversation.telegram_user_id
    ):
        raise Refused("the user opted out; nothing can be sent to them")
    if conversation.account_id is not None:
        account = await session.get(Account, conversation.account_id)
        if account is not None and account.status != "active":
            why = f" ({account.status_reason})" if account.status_reason else ""
            raise Refused(
                f"account {account.name} is {account.status}{why}; its conversations move to "
                "another account — try again in a minute"
            )


async def _check_edit(
    session: AsyncSession,
    conversation: Conversation,
    policy: OutreachPolicy,
    text: str,
    command: OperatorCommand,
) -> list[str]:
    """The output checks a model's draft gets, applied to what a person wrote: refused when they
    fail, unless the command overrides them (then the problems are returned, for the audit)."""
    lead = await session.get(Lead, conversation.lead_id)
    earlier = await session.scalars(
        select(ConversationMessage.text).where(
            ConversationMessage.conversation_id == conversation.id,
            ConversationMessage.direction == "out",
            ConversationMessage.status.in_(("queued", "sent")),
        )
    )
    findings = check_draft(
        text,
        policy=output_policy(policy, lead.chat_ref or "" if lead else ""),
        instructions=campaign_instructions(policy),
        previous=list(earlier),
    )
    problems = [finding.reason for finding in findings]
    if problems and not command.override_checks:
        raise Refused(
            "the text fails the output checks: fix it, or override them",
            outcome="checks_failed",
            problems=problems,
        )
    return problems


async def _conversation(session: AsyncSession, conversation_id: int | None) -> Conversation:
    if conversation_id is None or await session.get(Conversation, conversation_id) is None:
        raise Refused(f"conversation {conversation_id} does not exist", outcome="missing")
    return await store.locked_conversation(session, conversation_id)


def _user(command: OperatorCommand) -> int:
    if command.telegram_user_id is None:
        raise Refused("name the Telegram user", outcome="missing")
    return command.telegram_user_id


def _done(conversation: Conversation, message: ConversationMessage | None = None) -> OperatorResult:
    return OperatorResult(
        outcome="done",
        conversation_id=conversation.id,
        message_id=message.id if message is not None else None,
    )


async def _audit(
    session: AsyncSession,
    action: str,
    command: OperatorCommand,
    conversation: Conversation,
    message: ConversationMessage | None = None,
    problems: list[str] | None = None,
) -> None:
    actor: Actor = command.actor
    extra: dict[str, Any] = {"problems": problems} if problems else {}
    if message is not None and message.draft_text is not None and action != "checks_overridden":
        extra["draft_text"] = message.draft_text
    await store.audit(
        session,
        action,
        actor=actor.login,
        user_id=actor.user_id,
        channel=actor.channel,
        conversation=conversation,
        message=message,
        **extra,
    )
