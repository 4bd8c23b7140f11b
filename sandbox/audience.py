"""The simulated audience: people who chat in the world's supergroups at a configured rate.

What is said, by whom and where is deterministic for a seed; only the timing follows the clock.
Messages are posted in small batches per tick, so thousands per second cost little more than the
posting itself.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sandbox.corpus import MessageGenerator, make_person
from sandbox.errors import SandboxError
from sandbox.state import Chat, User, World

log = logging.getLogger("sandbox.audience")
MIN_TICK = 0.01  # seconds; at high rates one tick posts a batch instead of waking per message
IDLE_RETRY = 0.5  # seconds to wait when there is no chat to post in yet


class AudienceStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate: float = Field(1.0, gt=0, le=50_000, description="messages per second")
    count: int | None = Field(None, ge=1, description="stop after this many; endless when absent")
    seed: int = 0
    chats: list[int | str] | None = Field(None, description="ids/refs; all supergroups if absent")
    population: int = Field(200, ge=1, le=100_000)
    lead_share: float = Field(0.17, ge=0, le=1)
    excluded_share: float = Field(0.05, ge=0, le=1)


class Audience:
    def __init__(self, world: World) -> None:
        self.world = world
        self.config: AudienceStart | None = None
        self.posted = 0
        self.kinds: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._people: dict[int, list[User]] = {}
        self._extra_rng = random.Random(0)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def status(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "posted": self.posted,
            "kinds": dict(self.kinds),
            "config": self.config.model_dump() if self.config else None,
        }

    def people(self, seed: int, size: int) -> list[User]:
        """The audience for a seed, created in the world on first use and then reused."""
        crowd = self._people.setdefault(seed, [])
        rng = random.Random(f"people:{seed}:{len(crowd)}")
        while len(crowd) < size:
            crowd.append(self.new_person(rng))
        return crowd[:size]

    def new_person(self, rng: random.Random | None = None) -> User:
        rng = rng or self._extra_rng
        spec = make_person(rng)
        username = spec.username
        while username and (self.world.user(username) or self.world.chat(username)):
            username = f"{spec.username}_{rng.randrange(100, 999)}"
        return self.world.add_user(
            spec.first_name,
            last_name=spec.last_name,
            username=username,
            bio=spec.bio,
            lang=spec.lang,
        )

    async def start(self, config: AudienceStart) -> None:
        await self.stop()
        chats = None if config.chats is None else [self._chat(ref) for ref in config.chats]
        self.config, self.posted, self.kinds = config, 0, Counter()
        self._task = asyncio.create_task(self._run(config, chats), name="sandbox-audience")

    async def wait(self) -> None:
        """Until the current run ends: its ``count`` posted, or stopped."""
        if self._task is not None:
            await asyncio.wait({self._task})

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                if (current := asyncio.current_task()) is not None and current.cancelling():
                    raise

    def _chat(self, ref: int | str) -> Chat:
        chat = self.world.chat(ref)
        if chat is None or chat.kind != "supergroup":
            raise SandboxError("BAD_REQUEST", f"chats: no supergroup {ref!r}")
        return chat

    async def _run(self, config: AudienceStart, chats: list[Chat] | None) -> None:
        try:
            await self._post_loop(config, chats)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sandbox audience stopped on an error")

    async def _post_loop(self, config: AudienceStart, fixed: list[Chat] | None) -> None:
        generator = MessageGenerator(
            config.seed, lead_share=config.lead_share, excluded_share=config.excluded_share
        )
        picker = random.Random(f"picks:{config.seed}")
        crowd = self.people(config.seed, config.population)
        loop = asyncio.get_running_loop()
        started = loop.time()
        while config.count is None or self.posted < config.count:
            chats = fixed if fixed is not None else self.world.supergroups()
            if not chats:
                await asyncio.sleep(IDLE_RETRY)
                started = loop.time() - self.posted / config.rate
                continue
            due = int((loop.time() - started) * config.rate) + 1
            if config.count is not None:
                due = min(due, config.count)
            while self.posted < due:
                said = generator.next()
                self.world.post(picker.choice(chats), picker.choice(crowd), said.text)
                self.posted += 1
                self.kinds[said.kind] += 1
            next_at = started + self.posted / config.rate
            await asyncio.sleep(max(next_at - loop.time(), MIN_TICK))
