"""Wire the scripts service: the coordinator, its loop and its bus subscriptions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from core.events import SCENE_RESULT_SUFFIX, MessageSent, SendFailed
from core.platform import Platform
from core.scene_commands import SCENE_COMMAND
from core.settings import Settings
from core.topology import SCENE_ROUTING_KEY, SCRIPTS_CHATS, SCRIPTS_COMMANDS, SCRIPTS_RESULTS
from core.waiting import wait_at_most
from scripts.coordinator import Coordinator
from scripts.handlers import ScriptsHandlers
from scripts.lines import Pacing

STOP_GRACE = 10.0  # seconds the coordinator gets to finish its pass on the way out


def pacing(settings: Settings) -> Pacing:
    return Pacing(
        scale=settings.scene_time_scale,
        min_gap=settings.scene_min_gap,
        per_hour=settings.scene_lines_per_hour,
        repeat_window=timedelta(hours=settings.scene_repeat_window_hours),
    )


@dataclass
class RunningScripts:
    coordinator: Coordinator
    task: asyncio.Task[None]

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Let the coordinator finish its pass (bounded), rather than cut a transaction off."""
        self.coordinator.stop_soon()
        if not await wait_at_most(asyncio.shield(self.task), grace):
            self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def start_scripts(platform: Platform) -> RunningScripts:
    settings = platform.settings
    coordinator = Coordinator(
        platform.db,
        platform.bus,
        platform.relay,
        pacing(settings),
        engagement=timedelta(minutes=settings.scene_engagement_minutes),
    )
    handlers = ScriptsHandlers(coordinator)
    bus = platform.bus
    results = [MessageSent.NAME + SCENE_RESULT_SUFFIX, SendFailed.NAME + SCENE_RESULT_SUFFIX]
    await bus.subscribe(SCRIPTS_RESULTS, results, handlers.on_result)
    await bus.subscribe(SCRIPTS_CHATS, [SCENE_ROUTING_KEY], handlers.on_member_message)
    await bus.serve(SCRIPTS_COMMANDS, [SCENE_COMMAND], handlers.on_command, prefetch=1)
    task = asyncio.create_task(coordinator.run(), name="scripts-coordinator")
    return RunningScripts(coordinator, task)
