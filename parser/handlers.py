"""Bus handlers of the parser service: decode, call the logic, return (the bus acks after)."""

from __future__ import annotations

from pydantic import ValidationError

from core.bus import PermanentError
from core.events import Event, MessageIncoming
from parser.assignments import ChatAssigner
from parser.service import ParserService


def _decode(event: Event) -> MessageIncoming:
    try:
        return event.payload_as(MessageIncoming)
    except ValidationError as exc:
        raise PermanentError(f"malformed message.incoming: {exc.errors()[0]['msg']}") from exc


class ParserHandlers:
    def __init__(self, service: ParserService, assigner: ChatAssigner) -> None:
        self._service = service
        self._assigner = assigner

    async def on_message(self, event: Event) -> None:
        await self._service.handle_message(event, _decode(event))

    async def on_config_changed(self, _event: Event) -> None:
        """Configuration changed or an account was lost: recompile and move chats."""
        await self._service.reload()
        await self._assigner.rebalance()
