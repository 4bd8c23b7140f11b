"""Building blocks of the world that know nothing of users or chats: an append-only log read by
position, a signal that wakes long polls, a message's media, and who is typing where.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from core.waiting import wait_at_most

T = TypeVar("T")
K = TypeVar("K")
TYPING_SECONDS = 6.0  # Telegram shows "typing…" for about 5–6 s after each call


class Log(Generic[T]):
    """An append-only sequence addressed by absolute position; the oldest items are dropped.

    Positions never shift, so a cursor kept by a client stays valid across reconnects; a cursor
    older than what is kept is read from the oldest item still there.
    """

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._items: list[T] = []
        self._base = 0

    @property
    def start(self) -> int:
        return self._base

    @property
    def end(self) -> int:
        return self._base + len(self._items)

    def append(self, item: T) -> int:
        self._items.append(item)
        if len(self._items) >= 2 * self._keep:  # amortised trim keeps append O(1)
            self.discard_before(self.end - self._keep)
        return self.end - 1

    def read(self, start: int, limit: int) -> tuple[int, list[T]]:
        """Items from ``start`` (clamped to what is kept); returns the real start and the items."""
        start = min(max(start, self._base), self.end)
        offset = start - self._base
        return start, self._items[offset : offset + limit]

    def get(self, position: int) -> T | None:
        offset = position - self._base
        return self._items[offset] if 0 <= offset < len(self._items) else None

    def discard_before(self, position: int) -> None:
        drop = min(max(position - self._base, 0), len(self._items))
        if drop:
            del self._items[:drop]
            self._base += drop


class Signal:
    """Wakes long-polling handlers; ``notify`` is synchronous so world code can call it anywhere."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, seconds: float) -> None:
        """Until the next ``notify`` or ``seconds`` pass, whichever is first."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await wait_at_most(waiter, seconds)
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)


@dataclass(frozen=True, slots=True)
class Media:
    """A photo or sticker of a message: the sandbox keeps only its ref (a URL or a file name),
    never the bytes."""

    kind: Literal["photo", "sticker"]
    ref: str

    def json(self) -> dict[str, Any]:
        return {"kind": self.kind, "ref": self.ref}


@dataclass
class TypingBoard(Generic[K]):
    """Who is typing in which conversation, until when (``now`` + ``TYPING_SECONDS``)."""

    seconds: float = TYPING_SECONDS
    _until: dict[K, dict[int, float]] = field(default_factory=dict)

    def start(self, where: K, user_id: int, now: float) -> None:
        self._until.setdefault(where, {})[user_id] = now + self.seconds

    def stop(self, where: K, user_id: int) -> None:
        """The user sent their message: Telegram's apps drop the indicator at once."""
        typing = self._until.get(where)
        if typing is not None:
            typing.pop(user_id, None)

    def active(self, where: K, now: float) -> list[int]:
        """Who is still typing, earliest first; expired entries are forgotten here."""
        typing = self._until.get(where)
        if not typing:
            return []
        for user_id in [uid for uid, until in typing.items() if until <= now]:
            del typing[user_id]
        return sorted(typing, key=typing.__getitem__)
