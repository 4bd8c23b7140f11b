"""Telegram's limits for a bot, kept on our side so alerts wait instead of getting 429s.

The Bot FAQ: about one message a second to one chat, 20 a minute to one group, 30 a second
overall. Edits take from the chat's budget too (an edit storm is also flood-limited). A 429's
``retry_after`` closes the chat (or the whole bot) for that long.

Budgets start spent when the limiter is made and fill from then: a notifier restarted a moment
after a crash cannot know what its previous run just sent, and Telegram still counts it (a
restart in the middle of an alert storm met three 429s with full budgets). Only the first
seconds after a start are slower; a chat first written to later finds its budget full.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


@dataclass
class Bucket:
    capacity: float
    rate: float  # tokens per second
    tokens: float = field(init=False)
    stamp: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    def wait(self, now: float) -> float:
        """Seconds until one token is there (0: now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1

    def spent_at(self, moment: float) -> Bucket:
        """Empty at ``moment``, filling at its rate from then."""
        self.tokens, self.stamp = 0.0, moment
        return self


@dataclass(frozen=True)
class Limits:
    per_chat: float = 1.0  # messages per second to one chat
    per_group_minute: float = 20.0  # new messages per minute to one group
    overall: float = 30.0  # per second, all chats


class BotLimiter:
    def __init__(self, limits: Limits = Limits(), clock: Clock = time.monotonic) -> None:
        self._limits = limits
        self._clock = clock
        self._born = clock()
        self._chats: dict[int, Bucket] = {}
        self._groups: dict[int, Bucket] = {}
        self._overall = Bucket(limits.overall, limits.overall).spent_at(self._born)
        self._closed_until: dict[int | None, float] = {}  # None: the whole bot

    def _chat(self, chat_id: int) -> Bucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            # A burst of two, below Telegram's own (about three) so timing jitter stays clear of it.
            bucket = Bucket(2, self._limits.per_chat).spent_at(self._born)
            self._chats[chat_id] = bucket
        return bucket

    def _group(self, chat_id: int) -> Bucket:
        bucket = self._groups.get(chat_id)
        if bucket is None:
            per_minute = self._limits.per_group_minute
            bucket = Bucket(per_minute, per_minute / 60).spent_at(self._born)
            self._groups[chat_id] = bucket
        return bucket

    def wait(self, chat_id: int, *, new_message: bool) -> float:
        """Seconds before a send (``new_message``) or an edit to ``chat_id`` is allowed."""
        now = self._clock()
        closed = max(self._closed_until.get(chat_id, 0.0), self._closed_until.get(None, 0.0))
        waits = [closed - now, self._chat(chat_id).wait(now), self._overall.wait(now)]
        if new_message and chat_id < 0:
            waits.append(self._group(chat_id).wait(now))
        return max(0.0, *waits)

    def take(self, chat_id: int, *, new_message: bool) -> None:
        self._chat(chat_id).take()
        self._overall.take()
        if new_message and chat_id < 0:
            self._group(chat_id).take()

    def close(self, chat_id: int | None, seconds: float) -> None:
        """A 429 with ``retry_after``: nothing more to this chat (or at all) until then."""
        until = self._clock() + seconds
        self._closed_until[chat_id] = max(self._closed_until.get(chat_id, 0.0), until)
