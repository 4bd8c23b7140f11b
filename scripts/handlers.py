"""Bus handlers of the scripts service: decode, hand to the coordinator, return (ack after)."""

from __future__ import annotations

from core.bus import PermanentError, decode_payload
from core.events import Event, MessageIncoming, MessageSent, SendFailed
from core.scene_commands import SceneCommand
from scripts.coordinator import Coordinator


class ScriptsHandlers:
    def __init__(self, coordinator: Coordinator) -> None:
        self._coordinator = coordinator

    async def on_command(self, event: Event) -> Event:
        command = decode_payload(event, SceneCommand)
        return Event.of(await self._coordinator.on_command(command), correlation_id=event.id)

    async def on_result(self, event: Event) -> None:
        report: MessageSent | SendFailed
        if event.name == MessageSent.NAME:
            report = decode_payload(event, MessageSent)
        elif event.name == SendFailed.NAME:
            report = decode_payload(event, SendFailed)
        else:
            raise PermanentError(f"the scripts service does not handle {event.name}")
        if report.run_id is None:
            raise PermanentError(f"{event.name} for a line of no run reached the scripts service")
        await self._coordinator.on_result(report)

    async def on_member_message(self, event: Event) -> None:
        await self._coordinator.on_member_message(decode_payload(event, MessageIncoming))
