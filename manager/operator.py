"""What an operator can do to a conversation: approve, edit or reject a draft, take over, write.

The admin API (and later the panel and the notifier bot) call these; each is one transaction
that also writes its audit row and events. The manager's dispatcher sends what becomes due.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.db.models import Conversation, ConversationMessage
from manager import contacts, store
from manager.drafts import schedule
from manager.handoff import handoff
from manager.scheduling import SendPlanner


class OperatorError(Exception):
    """The action cannot be done; ``missing`` tells a 404 from a conflict."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


async def _draft(
    session: AsyncSession, message_id: int
) -> tuple[ConversationMessage, Conversation]:
    message = await session.get(ConversationMessage, message_id)
    if message is None or message.direction != "out":
        raise OperatorError(f"draft {message_id} does not exist", missing=True)
    conversation = await store.locked_conversation(session, message.conversation_id)
    await session.refresh(message)
    if message.status != "pending_approval":
        raise OperatorError(f"draft {message_id} is {message.status}, not waiting for approval")
    return message, conversation


async def approve(
    db: Database, message_id: int, *, by: str, text: str | None = None, paced: bool = True
) -> ConversationMessage:
    """Send the draft (as edited, when ``text`` is given) at the account's next allowed time."""
    async with db.transaction() as session:
        message, conversation = await _draft(session, message_id)
        if text is not None:
            message.text = text.strip()
        if not message.text:
            raise OperatorError("the draft is empty: edit it before approving")
        if await contacts.is_do_not_contact(session, conversation.telegram_user_id):
            raise OperatorError("the user opted out; nothing can be sent to them")
        view = await store.campaign(session, conversation.campaign_id)
        if conversation.account_id is None:
            accounts = await store.manager_accounts(session, view.id)
            if not accounts:
                raise OperatorError("the campaign has no active manager account to send from")
            conversation.account_id = accounts[0]
        message.approved_by = by
        message.reason = None
        planner = SendPlanner(session, paced=paced, now=datetime.now(UTC))
        await schedule(conversation, message, view.policy, planner)
        action = "edited_and_approved" if text is not None else "approved"
        await store.audit(session, action, actor=by, conversation=conversation, message=message)
        return message


async def reject(db: Database, message_id: int, *, by: str, reason: str = "") -> None:
    """Nothing is sent; a rejected first message frees the contact for other campaigns."""
    async with db.transaction() as session:
        message, conversation = await _draft(session, message_id)
        message.status = "rejected"
        message.reason = reason or f"rejected by {by}"
        conversation.status = "rejected"
        conversation.reason = message.reason
        if message.kind == "first":
            await contacts.release_first_contact(
                session, conversation.telegram_user_id, conversation.campaign_id
            )
        await store.audit(session, "rejected", actor=by, conversation=conversation, message=message)


async def take_over(db: Database, conversation_id: int, *, by: str) -> None:
    async with db.transaction() as session:
        conversation = await _conversation(session, conversation_id)
        await handoff(session, conversation, reason=f"taken over by {by}", by=by)


async def send_manual(
    db: Database, conversation_id: int, *, by: str, text: str
) -> ConversationMessage:
    """An operator's own message in a conversation they took over; sent at once, no pacing."""
    text = text.strip()
    if not text:
        raise OperatorError("the message is empty")
    async with db.transaction() as session:
        conversation = await _conversation(session, conversation_id)
        if conversation.status != "handoff":
            raise OperatorError("take the conversation over before writing in it by hand")
        if await contacts.is_do_not_contact(session, conversation.telegram_user_id):
            raise OperatorError("the user opted out; nothing can be sent to them")
        if conversation.account_id is None:
            raise OperatorError("the conversation has no account to send from")
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
            send_after=datetime.now(UTC),
        )
        conversation.turns += 1
        session.add(message)
        await session.flush()
        await store.audit(session, "manual", actor=by, conversation=conversation, message=message)
        return message


async def _conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    if await session.get(Conversation, conversation_id) is None:
        raise OperatorError(f"conversation {conversation_id} does not exist", missing=True)
    return await store.locked_conversation(session, conversation_id)
