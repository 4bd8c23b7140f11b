"""Telegram-shaped rate limits: token buckets keyed by bot/chat/account.

The Bot FAQ numbers (about 1 message/s per chat with short bursts, 20 messages/min to one group,
about 30 messages/s overall) and made-up but plausible user-account numbers (Telegram publishes
none). Every number is configurable so tests and benchmarks can tighten or relax them.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

Clock = Callable[[], float]


@dataclass
class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` tokens per second; one request costs one token."""

    capacity: float
    rate: float
    tokens: float = field(init=False)
    stamp: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    def _refill(self, now: float) -> None:
        if self.stamp is not None and now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        if self.stamp is None or now > self.stamp:
            self.stamp = now

    def wait_time(self, now: float, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are available (0 when they are now)."""
        self._refill(now)
        if self.tokens >= cost:
            return 0.0
        if self.rate <= 0:
            return math.inf
        return (cost - self.tokens) / self.rate

    def take(self, now: float, cost: float = 1.0) -> None:
        self._refill(now)
        self.tokens -= cost


def acquire(buckets: Sequence[TokenBucket], now: float) -> float:
    """Take one token from every bucket, or from none: returns the wait when any is empty."""
    wait = max((bucket.wait_time(now) for bucket in buckets), default=0.0)
    if wait == 0.0:
        for bucket in buckets:
            bucket.take(now)
    return wait


def retry_seconds(wait: float) -> int:
    """Telegram answers whole seconds and never 0 for a refused request."""
    return max(1, math.ceil(wait)) if math.isfinite(wait) else 86_400


class KeyedBuckets:
    """One bucket per key, created on first use with the same shape."""

    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self._buckets: dict[Hashable, TokenBucket] = {}

    def __getitem__(self, key: Hashable) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.capacity, self.rate)
        return bucket


class SlidingWindow:
    """At most ``limit`` events per key in any ``window`` seconds: exact where a token bucket
    lets a full burst and then its refill through in one minute."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[Hashable, deque[float]] = {}

    def wait_time(self, key: Hashable, now: float) -> float:
        """Seconds until one more event fits (0 when it fits now)."""
        events = self._events.get(key)
        if events is None:
            return 0.0
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) < self.limit:
            return 0.0
        return events[-self.limit] + self.window - now

    def count(self, key: Hashable, now: float) -> None:
        self._events.setdefault(key, deque()).append(now)


class BotLimitsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per_chat_rate: float = Field(1.0, gt=0, description="messages/s to one chat")
    per_chat_burst: float = Field(3, ge=1)
    group_per_minute: float = Field(20, gt=0)
    global_rate: float = Field(30.0, gt=0, description="messages/s overall, per bot")
    global_burst: float = Field(30, ge=1)


class AccountLimitsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages_per_minute: float = Field(30, gt=0)
    message_burst: float = Field(20, ge=1)
    joins_per_hour: float = Field(120, gt=0)
    join_burst: float = Field(20, ge=1)
    new_dms_per_hour: float = Field(20, gt=0, description="DMs opening a dialog with a stranger")
    new_dm_burst: float = Field(20, ge=1)
    max_channels: int = Field(500, ge=1)
    group_messages_per_minute: int = Field(
        20, ge=1, description="messages one account may post in one group in any 60 s"
    )


class LimitsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bot: BotLimitsConfig = Field(default_factory=BotLimitsConfig)
    account: AccountLimitsConfig = Field(default_factory=AccountLimitsConfig)


class BotLimiter:
    def __init__(self, config: BotLimitsConfig, clock: Clock = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._per_chat = KeyedBuckets(config.per_chat_burst, config.per_chat_rate)
        self._group = KeyedBuckets(config.group_per_minute, config.group_per_minute / 60)
        self._global = KeyedBuckets(config.global_burst, config.global_rate)

    def send(self, bot_id: int, chat_id: int, *, group: bool) -> float:
        """Count one outgoing message; returns 0 or the seconds to wait (nothing counted)."""
        buckets = [self._per_chat[(bot_id, chat_id)], self._global[bot_id]]
        if group:
            buckets.append(self._group[(bot_id, chat_id)])
        return acquire(buckets, self._clock())


class AccountLimiter:
    def __init__(self, config: AccountLimitsConfig, clock: Clock = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._messages = KeyedBuckets(config.message_burst, config.messages_per_minute / 60)
        self._joins = KeyedBuckets(config.join_burst, config.joins_per_hour / 3600)
        self._strangers = KeyedBuckets(config.new_dm_burst, config.new_dms_per_hour / 3600)
        self._groups = SlidingWindow(config.group_messages_per_minute, 60.0)

    def message(self, account_id: int) -> float:
        return acquire([self._messages[account_id]], self._clock())

    def group_wait(self, account_id: int, chat_id: int) -> float:
        """Seconds before this account may post in this group again (0: now)."""
        return self._groups.wait_time((account_id, chat_id), self._clock())

    def count_group_message(self, account_id: int, chat_id: int) -> None:
        self._groups.count((account_id, chat_id), self._clock())

    def join(self, account_id: int) -> float:
        return acquire([self._joins[account_id]], self._clock())

    def new_dialog(self, account_id: int) -> float:
        """A DM to someone the account has never talked with; refused means PEER_FLOOD."""
        return self._strangers[account_id].wait_time(self._clock())

    def count_new_dialog(self, account_id: int) -> None:
        self._strangers[account_id].take(self._clock())
