"""The simulated audience: people who chat in the world's supergroups at a configured rate.

What is said, by whom and where is deterministic for a seed; only the timing follows the clock.
Messages are posted in small batches per tick, so thousands per second cost little more than the
posting itself.

Every member has a role (``sandbox.corpus_roles``): buyers say what a campaign is after; sellers,
agencies, job seekers, recruiters, learners and news readers say the same keywords without wanting
to buy; anyone chats. A role's messages come from its members in turn (a shuffled deck), so a small
crowd's members all get to speak; ``GET /_sandbox/audience/people`` tells a test who is who.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sandbox.corpus import MessageGenerator, make_person
from sandbox.corpus_roles import CROWD_PATTERN, ROLES, Role
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
    roles: dict[Role, int] | None = Field(
        None, description="the crowd by role, e.g. {buyer: 10, seller: 5}; replaces population"
    )
    lead_share: float = Field(0.17, ge=0, le=1, description="buyers' keyword hits")
    lookalike_share: float = Field(
        0.08, ge=0, le=1, description="keyword hits from sellers, job seekers … (not buyers)"
    )
    excluded_share: float = Field(0.05, ge=0, le=1, description="hits with a minus word")

    @model_validator(mode="after")
    def _sane(self) -> AudienceStart:
        if self.lead_share + self.lookalike_share + self.excluded_share > 1:
            raise ValueError("lead_share + lookalike_share + excluded_share must not exceed 1")
        if self.roles is not None:
            if any(n < 0 for n in self.roles.values()) or sum(self.roles.values()) < 1:
                raise ValueError("roles: counts are ≥ 0 and at least one person")
            if sum(self.roles.values()) > 100_000:
                raise ValueError("roles: at most 100000 people")
        return self

    def crowd(self) -> dict[Role, int]:
        """How many people of each role: ``roles``, or ``population`` in the default mix."""
        if self.roles is not None:
            return {role: n for role, n in self.roles.items() if n > 0}
        cycle = sum(CROWD_PATTERN.values())
        whole, rest = divmod(self.population, cycle)
        counts = {role: n * whole for role, n in CROWD_PATTERN.items()}
        for role in _pattern()[:rest]:
            counts[role] += 1
        return {role: n for role, n in counts.items() if n > 0}


def _pattern() -> list[Role]:
    """The default mix spread out, so a small population still has buyers and lookalikes."""
    slots = [(i / n, role) for role, n in CROWD_PATTERN.items() for i in range(n)]
    return [role for _, role in sorted(slots, key=lambda s: (s[0], ROLES.index(s[1])))]


class Audience:
    def __init__(self, world: World) -> None:
        self.world = world
        self.config: AudienceStart | None = None
        self.posted = 0
        self.kinds: Counter[str] = Counter()
        self.roles: dict[int, Role] = {}  # user id → role, of everyone the audience made
        self._task: asyncio.Task[None] | None = None
        self._crowds: dict[str, list[User]] = {}
        self._crowd: list[User] = []  # the current run's
        self._extra_rng = random.Random(0)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def status(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "posted": self.posted,
            "kinds": dict(self.kinds),
            "roles": dict(Counter(self.roles[user.id] for user in self._crowd)),
            "config": self.config.model_dump() if self.config else None,
        }

    def people(self) -> list[dict[str, Any]]:
        """The current crowd: who each member is and their role."""
        return [
            {
                "user_id": user.id,
                "first_name": user.first_name,
                "username": user.username,
                "role": self.roles[user.id],
            }
            for user in self._crowd
        ]

    def crowd(self, seed: int, roles: dict[Role, int]) -> list[User]:
        """The crowd for a seed and mix, created in the world on first use and then reused."""
        key = f"{seed}:{sorted(roles.items())}"
        if key in self._crowds:
            return self._crowds[key]
        wanted = [role for role in ROLES for _ in range(roles.get(role, 0))]
        random.Random(f"roles:{seed}").shuffle(wanted)
        made = [
            self.new_person(random.Random(f"people:{seed}:{n}"), role)
            for n, role in enumerate(wanted)
        ]
        self._crowds[key] = made
        return made

    def new_person(self, rng: random.Random | None = None, role: Role = "chatter") -> User:
        rng = rng or self._extra_rng
        spec = make_person(rng, role)
        username = spec.username
        while username and (self.world.user(username) or self.world.chat(username)):
            username = f"{spec.username}_{rng.randrange(100, 999)}"
        user = self.world.add_user(
            spec.first_name,
            last_name=spec.last_name,
            username=username,
            bio=spec.bio,
            lang=spec.lang,
        )
        self.roles[user.id] = role
        return user

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
        mix = config.crowd()
        generator = MessageGenerator(
            config.seed,
            lead_share=config.lead_share,
            lookalike_share=config.lookalike_share,
            excluded_share=config.excluded_share,
            roles=mix,
        )
        picker = random.Random(f"picks:{config.seed}")
        crowd = self._crowd = self.crowd(config.seed, mix)
        speakers = _Speakers(crowd, self.roles, picker)
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
                self.world.post(picker.choice(chats), speakers.next(said.role), said.text)
                self.posted += 1
                self.kinds[said.kind] += 1
            next_at = started + self.posted / config.rate
            await asyncio.sleep(max(next_at - loop.time(), MIN_TICK))


class _Speakers:
    """Who says a role's next message: its members in a shuffled order, reshuffled after each
    round; chatter comes from anyone."""

    def __init__(self, crowd: list[User], roles: dict[int, Role], rng: random.Random) -> None:
        self._crowd = crowd
        self._rng = rng
        self._members: dict[Role, list[User]] = {}
        for user in crowd:
            self._members.setdefault(roles[user.id], []).append(user)
        self._decks: dict[Role, list[User]] = {}

    def next(self, role: Role) -> User:
        members = self._members.get(role)
        if role == "chatter" or not members:
            return self._rng.choice(self._crowd)
        deck = self._decks.get(role)
        if not deck:
            deck = self._decks[role] = list(members)
            self._rng.shuffle(deck)
        return deck.pop()
