"""Bus handlers of the manager: decode, call the logic, return (the bus acks after)."""

from __future__ import annotations

from core.bus import PermanentError, decode_payload
from core.events import (
    AccountBanned,
    AccountRevoked,
    ConfigChanged,
    Event,
    LeadFound,
    MessageIncoming,
    MessageSent,
    SendFailed,
)
from core.operator_commands import OperatorCommand
from manager.conversations import Conversations
from manager.delivery import Delivery
from manager.operator import OperatorDesk


class ManagerHandlers:
    def __init__(
        self, conversations: Conversations, delivery: Delivery, desk: OperatorDesk
    ) -> None:
        self._conversations = conversations
        self._delivery = delivery
        self._desk = desk

    async def on_operator_command(self, event: Event) -> Event:
        """A person's action from the panel, the API or the bot; the answer goes back to them."""
        result = await self._desk.handle(decode_payload(event, OperatorCommand))
        return Event.of(result, correlation_id=event.id)

    async def on_lead(self, event: Event) -> None:
        await self._conversations.on_lead(decode_payload(event, LeadFound))

    async def on_reply(self, event: Event) -> None:
        message = decode_payload(event, MessageIncoming)
        if message.is_private and message.text:
            await self._conversations.on_reply(message)

    async def on_result(self, event: Event) -> None:
        if event.name == MessageSent.NAME:
            await self._delivery.on_sent(decode_payload(event, MessageSent))
        elif event.name == SendFailed.NAME:
            await self._delivery.on_send_failed(decode_payload(event, SendFailed))
        else:
            raise PermanentError(f"the manager does not handle {event.name} here")

    async def on_control(self, event: Event) -> None:
        if event.name == ConfigChanged.NAME:
            decode_payload(event, ConfigChanged)  # a malformed one is refused, not acted on
            # A campaign may have a manager account now; in the background, as it may write long.
            self._conversations.resume_waiting_soon()
        elif event.name in (AccountBanned.NAME, AccountRevoked.NAME):
            lost: AccountBanned | AccountRevoked = (
                decode_payload(event, AccountBanned)
                if event.name == AccountBanned.NAME
                else decode_payload(event, AccountRevoked)
            )
            await self._delivery.on_account_lost(lost.account_id)
        else:
            raise PermanentError(f"the manager does not handle {event.name} here")
