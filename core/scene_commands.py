"""The scripts service's contract: start, pause, resume and cancel scene runs, and the answer.

The scripts service is the only writer of runs, so the admin API never creates or changes one
itself: it sends a ``SceneCommand`` over the bus as a request and gets a ``SceneResult`` — the run
ids made, or why nothing was started (a chat that is not the operator's own, no free account,
a variation used up …). The actor comes from the authenticated identity, as for operator commands.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from core.access import Actor
from core.bus import Bus, RequestTimeout
from core.events import Event, Payload

SCENE_COMMAND = "command.scene"
SCENE_TIMEOUT = 15.0  # seconds the sender waits; a start may have to check a few accounts
MAX_RUNS_PER_COMMAND = 50

SceneAction = Literal["start", "pause", "resume", "cancel"]
SceneOutcome = Literal["done", "refused", "missing", "conflict", "unavailable"]


class SceneCommand(Payload):
    NAME: ClassVar[str] = SCENE_COMMAND

    action: SceneAction
    actor: Actor
    run_id: int | None = None  # pause, resume, cancel
    scenario_id: int | None = None  # start
    chat_id: int | None = None  # start: chats.id (the workspace's chat)
    cast: dict[str, int] = Field(
        default_factory=dict, description="role → account id, over the scenario's own cast"
    )
    variables: dict[str, str] = Field(default_factory=dict, description="over the chat's")
    start_at: AwareDatetime | None = Field(None, description="first run at; now when absent")
    runs: int = Field(1, ge=1, le=MAX_RUNS_PER_COMMAND)
    window_minutes: float = Field(
        0.0, ge=0, le=7 * 24 * 60, description="spread the runs over this long, with jitter"
    )
    seed: int | None = Field(None, description="variations and pauses; random when absent")


class SceneResult(Payload):
    NAME: ClassVar[str] = "command.scene.result"

    outcome: SceneOutcome
    detail: str = ""
    problems: list[str] = Field(default_factory=list, description="every reason it was refused")
    run_ids: list[int] = Field(default_factory=list)
    starts: list[datetime] = Field(default_factory=list, description="when each run is due")


async def send_scene_command(
    bus: Bus,
    command: SceneCommand,
    *,
    timeout: float = SCENE_TIMEOUT,  # noqa: ASYNC109 - also the deadline the command carries
) -> SceneResult:
    """Send ``command`` to the scripts service; ``unavailable`` when none answered in time (the
    command carries its deadline, so a late service will not act on it)."""
    try:
        reply = await bus.request(Event.of(command), timeout=timeout)
    except RequestTimeout:
        return SceneResult(
            outcome="unavailable",
            detail=f"the scripts service did not answer within {timeout:g} s; nothing was done",
        )
    return reply.payload_as(SceneResult)
