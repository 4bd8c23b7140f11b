"""What a press or a reply in Telegram does: the same operator commands as the panel (sent to
the manager), silences, take-overs; then the alert is settled so every copy of its message is
redrawn ("Approved by X at T", buttons gone).

Each method answers with a short text for the person (a callback toast or a reply).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import Role
from core.bus import Bus
from core.db import Database
from core.db.notifier_models import (
    Alert,
    AlertDelivery,
    AlertMessage,
    AlertRecipient,
    AlertSilence,
    TelegramTakeover,
)
from core.operator_commands import Action, OperatorCommand, send_operator_command
from notifier import buttons
from notifier.event_alerts import Settle
from notifier.intake import settle
from notifier.lead_marks import MARKS, mark_lead
from notifier.people import Person, person_for
from notifier.texts import N_, Texts

ACTIONS: dict[str, Action] = {
    buttons.APPROVE: "approve",
    buttons.REJECT: "reject",
    buttons.TAKE_OVER: "take_over",
    buttons.HAND_BACK: "hand_back",
}
OUTCOME_OF = {"approve": "approved", "reject": "rejected", "take_over": "taken_over"}
NOT_LINKED = N_(
    "Link your Telegram account first: open your profile in the panel and send the code "
    "here as /start CODE."
)


@dataclass(frozen=True)
class Answer:
    text: str
    alert: bool = False  # a pop-up the person must dismiss, not a passing toast


class AlertActions:
    def __init__(self, db: Database, bus: Bus, *, wake: Callable[[], None]) -> None:
        self._db = db
        self._bus = bus
        self._wake = wake

    async def press(
        self, press: buttons.AlertPress, *, telegram_user_id: int, chat_id: int, message_id: int
    ) -> Answer:
        async with self._db.session() as session:
            person = await person_for(session, telegram_user_id)
            texts = _texts(person)
            if person is None:
                return Answer(texts(NOT_LINKED), alert=True)
            alert = await _pressed_alert(session, press.alert, chat_id, message_id)
            if alert is None:
                return Answer(texts("This button is no longer valid."), alert=True)
            if not person.may(Role.operator):
                return Answer(
                    texts("Your role ({role}) cannot do this.", role=texts(person.role.value)),
                    alert=True,
                )
            recipient = await session.scalar(
                select(AlertRecipient).where(AlertRecipient.chat_id == chat_id)
            )
        if press.act == buttons.SILENCE:
            return await self._silence(alert, person, press.hours, texts)
        if press.act in MARKS:
            if alert.state != "firing":
                return Answer(_already(alert, texts), alert=True)
            said, pop_up = await mark_lead(
                self._db, self._bus, alert, person, recipient, press.act, texts
            )
            self._wake()
            return Answer(said, alert=pop_up)
        action = ACTIONS.get(press.act)
        if action is None:
            return Answer(texts("This button is no longer valid."), alert=True)
        if alert.state != "firing" and action != "hand_back":
            return Answer(_already(alert, texts), alert=True)
        conversation = int(alert.data.get("conversation_id") or 0) or None
        command = OperatorCommand(
            action=action,
            actor=person.actor(),
            message_id=alert.data.get("message_id") if action in ("approve", "reject") else None,
            conversation_id=conversation,
        )
        result = await send_operator_command(self._bus, command)
        if result.outcome != "done":
            return Answer(texts("Not done: {detail}", detail=result.detail), alert=True)
        await self._after(alert, action, person, recipient, conversation)
        return Answer(texts("Done."))

    async def _after(
        self,
        alert: Alert,
        action: Action,
        person: Person,
        recipient: AlertRecipient | None,
        conversation: int | None,
    ) -> None:
        now = datetime.now(UTC)
        async with self._db.transaction() as session:
            if action == "take_over" and recipient is not None and conversation is not None:
                await session.merge(
                    TelegramTakeover(
                        conversation_id=conversation,
                        recipient_id=recipient.id,
                        user_id=person.user_id,
                        since=now,
                    )
                )
            await _record_action(session, alert.id, recipient, OUTCOME_OF.get(action, action), now)
            if action == "hand_back":
                done = Settle(
                    state="handled",
                    outcome="handed_back",
                    by=person.login,
                    at=now,
                    kinds=("conversation.handoff", "conversation.reply", "draft.pending"),
                    subject=alert.subject,
                )
            elif action == "take_over":
                done = Settle(
                    state="handled",
                    outcome="taken_over",
                    by=person.login,
                    at=now,
                    kinds=("draft.pending", "conversation.handoff"),
                    subject=alert.subject,
                )
            else:
                done = Settle(
                    state="handled",
                    outcome=OUTCOME_OF[action],
                    by=person.login,
                    at=now,
                    fingerprint=alert.fingerprint,
                )
            await settle(session, done, now=now)
        self._wake()

    async def _silence(self, alert: Alert, person: Person, hours: int, texts: Texts) -> Answer:
        if hours not in buttons.SILENCE_HOURS:
            return Answer(texts("This button is no longer valid."), alert=True)
        now = datetime.now(UTC)
        ends = now + timedelta(hours=hours)
        async with self._db.transaction() as session:
            session.add(
                AlertSilence(
                    kind=alert.kind,
                    subject=alert.subject,
                    created_by=person.login,
                    created_at=now,
                    ends_at=ends,
                )
            )
        return Answer(
            texts("Muted until {at}: nothing more like this is sent.", at=texts.when(ends)),
            alert=True,
        )

    async def reply(
        self, *, telegram_user_id: int, chat_id: int, replied_to: int, text: str
    ) -> str | None:
        """A reply to one of the bot's messages: edit-and-approve a draft, or answer a lead in a
        conversation taken over from this chat. None when the reply is not to an alert."""
        async with self._db.session() as session:
            person = await person_for(session, telegram_user_id)
            texts = _texts(person)
            alerts = await _alerts_in(session, chat_id, replied_to)
            if not alerts:
                return None
            if person is None:
                return texts(NOT_LINKED)
            if not person.may(Role.operator):
                return texts("Your role ({role}) cannot do this.", role=texts(person.role.value))
            alert = alerts[-1]
            conversation = int(alert.data.get("conversation_id") or 0) or None
            held = conversation is not None and await session.scalar(
                select(TelegramTakeover.conversation_id)
                .join(AlertRecipient, AlertRecipient.id == TelegramTakeover.recipient_id)
                .where(
                    TelegramTakeover.conversation_id == conversation,
                    AlertRecipient.chat_id == chat_id,
                )
            )
        if alert.kind == "draft.pending" and alert.state == "firing":
            command = OperatorCommand(
                action="approve",
                actor=person.actor(),
                message_id=alert.data.get("message_id"),
                text=text,
            )
            result = await send_operator_command(self._bus, command)
            if result.outcome == "checks_failed":
                problems = "\n".join(f"• {p}" for p in result.problems)
                return texts("Not sent: your text fails the checks:\n{problems}", problems=problems)
            if result.outcome != "done":
                return texts("Not done: {detail}", detail=result.detail)
            await self._after(alert, "approve", person, None, conversation)
            return texts("✅ Your text is approved and will be sent.")
        if held:
            command = OperatorCommand(
                action="write", actor=person.actor(), conversation_id=conversation, text=text
            )
            result = await send_operator_command(self._bus, command)
            if result.outcome == "checks_failed":
                problems = "\n".join(f"• {p}" for p in result.problems)
                return texts("Not sent: your text fails the checks:\n{problems}", problems=problems)
            if result.outcome != "done":
                return texts("Not sent: {detail}", detail=result.detail)
            return texts("✉️ Sent to {person}.", person=alert.data.get("person"))
        if alert.state != "firing":
            return _already(alert, texts)
        return texts(
            "Reply to a draft to send your text instead, or take a conversation over and reply "
            "to its messages to answer the lead."
        )


def _texts(person: Person | None) -> Texts:
    return Texts(person.language, person.timezone) if person else Texts()


def _already(alert: Alert, texts: Texts) -> str:
    when = texts.when(alert.handled_at or alert.resolved_at)
    if alert.handled_by:
        return texts("Already handled by {by} at {at}.", by=alert.handled_by, at=when)
    return texts("Already settled at {at} ({outcome}).", at=when, outcome=alert.outcome or "")


async def _pressed_alert(
    session: AsyncSession, alert_id: int, chat_id: int, message_id: int
) -> Alert | None:
    """The alert, only if the pressed message really carries it (a forged or stale callback
    naming another alert finds nothing)."""
    return await session.scalar(
        select(Alert)
        .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
        .join(AlertMessage, AlertMessage.id == AlertDelivery.message_id)
        .where(
            Alert.id == alert_id,
            AlertMessage.chat_id == chat_id,
            AlertMessage.telegram_message_id == message_id,
        )
    )


async def _alerts_in(session: AsyncSession, chat_id: int, message_id: int) -> list[Alert]:
    rows = await session.scalars(
        select(Alert)
        .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
        .join(AlertMessage, AlertMessage.id == AlertDelivery.message_id)
        .where(AlertMessage.chat_id == chat_id, AlertMessage.telegram_message_id == message_id)
        .order_by(Alert.id)
    )
    return list(rows)


async def _record_action(
    session: AsyncSession,
    alert_id: int,
    recipient: AlertRecipient | None,
    action: str,
    now: datetime,
) -> None:
    query = select(AlertDelivery).where(AlertDelivery.alert_id == alert_id)
    if recipient is not None:
        query = query.where(AlertDelivery.recipient_id == recipient.id)
    for delivery in (await session.scalars(query.limit(1))).all():
        delivery.action, delivery.acted_at = action[:32], now
