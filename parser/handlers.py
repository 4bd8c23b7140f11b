"""Bus handlers of the parser service: decode, call the logic, return (the bus acks after)."""

from __future__ import annotations

from core.bus import PermanentError, decode_payload
from core.chat_batch import ChatMessages
from core.events import (
    AccountBanned,
    AccountRevoked,
    ConfigChanged,
    Event,
    LeadReferred,
    MessageIncoming,
    Payload,
)
from core.lead_commands import LeadCommand
from parser.assignments import ChatAssigner
from parser.handoff_queue import OutreachQueue
from parser.lead_marks import LeadMarks
from parser.service import ParserService

CONTROL_EVENTS: dict[str, type[Payload]] = {
    kind.NAME: kind for kind in (ConfigChanged, AccountBanned, AccountRevoked)
}


class ParserHandlers:
    def __init__(
        self,
        service: ParserService,
        assigner: ChatAssigner,
        outreach: OutreachQueue,
        marks: LeadMarks,
    ) -> None:
        self._service = service
        self._assigner = assigner
        self._outreach = outreach
        self._marks = marks

    async def on_message(self, event: Event) -> None:
        if event.name == ChatMessages.NAME:  # what account workers send: many at once
            batch = decode_payload(event, ChatMessages)
            await self._service.handle_batch(event, batch.messages)
            return
        if event.name == LeadReferred.NAME:
            await self._service.handle_referral(event, decode_payload(event, LeadReferred))
            return
        await self._service.handle_message(event, decode_payload(event, MessageIncoming))

    async def on_config_changed(self, event: Event) -> None:
        """Configuration changed or an account was lost: recompile and move chats. The payload
        is checked against its contract first: a malformed one is refused, not acted on."""
        kind = CONTROL_EVENTS.get(event.name)
        if kind is None:
            raise PermanentError(f"the parser does not handle {event.name} here")
        decode_payload(event, kind)
        await self._service.reload()
        await self._assigner.rebalance()
        await self._outreach.ensure()

    async def on_lead_command(self, event: Event) -> Event:
        """An operator's "is a lead" / "not a lead"; the answer goes back to them."""
        result = await self._marks.handle(
            decode_payload(event, LeadCommand), correlation_id=event.id
        )
        return Event.of(result, correlation_id=event.id)
