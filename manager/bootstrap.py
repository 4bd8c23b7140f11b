"""Wire the manager service: writer, conversations, delivery results, dispatcher, subscriptions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from core.events import (
    AccountBanned,
    AccountRevoked,
    ConfigChanged,
    LeadFound,
    MessageSent,
    SendFailed,
)
from core.operator_commands import OPERATOR_COMMAND
from core.platform import Platform
from core.topology import (
    DM_ROUTING_KEY,
    MANAGER_CONTROL,
    MANAGER_LEADS,
    MANAGER_OPERATOR,
    MANAGER_REPLIES,
    MANAGER_RESULTS,
)
from manager.conversations import Conversations
from manager.delivery import Delivery
from manager.dispatcher import Dispatcher
from manager.handlers import ManagerHandlers
from manager.operator import OperatorDesk
from manager.writers import Writer, make_writer


@dataclass
class RunningManager:
    conversations: Conversations
    dispatcher: Dispatcher
    writer: Writer
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.conversations.close()
        await self.writer.close()


async def start_manager(platform: Platform, *, writer: Writer | None = None) -> RunningManager:
    """Start the dispatcher, then consume results before leads so nothing waits on a full queue."""
    settings = platform.settings
    writer = writer or make_writer(settings)
    paced = settings.manager_pacing
    dispatcher = Dispatcher(platform.db, platform.bus, platform.relay)
    conversations = Conversations(
        platform.db,
        platform.relay,
        writer,
        paced=paced,
        wake_dispatcher=dispatcher.poke,
        box=platform.box,
        queue=dispatcher.queue,
    )
    delivery = Delivery(platform.db, conversations, paced=paced)
    desk = OperatorDesk(platform.db, wake=dispatcher.poke, paced=paced)
    handlers = ManagerHandlers(conversations, delivery, desk)
    task = asyncio.create_task(dispatcher.run(), name="manager-dispatcher")
    bus = platform.bus
    await bus.subscribe(
        MANAGER_CONTROL,
        [AccountBanned.NAME, AccountRevoked.NAME, ConfigChanged.NAME],
        handlers.on_control,
        prefetch=1,
    )
    await bus.serve(MANAGER_OPERATOR, [OPERATOR_COMMAND], handlers.on_operator_command, prefetch=1)
    await bus.subscribe(MANAGER_RESULTS, [MessageSent.NAME, SendFailed.NAME], handlers.on_result)
    await bus.subscribe(MANAGER_REPLIES, [DM_ROUTING_KEY], handlers.on_reply)
    await bus.subscribe(MANAGER_LEADS, [LeadFound.NAME], handlers.on_lead)
    conversations.resume_waiting_soon()  # leads parked before this start, if a campaign can write
    return RunningManager(conversations, dispatcher, writer, task)
