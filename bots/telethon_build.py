"""Building a Telethon ``TelegramClient`` for a worker or a login, and the small TTL cache the
adapter keeps profiles in. Objects only: nothing here connects.
"""

from __future__ import annotations

import struct
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from telethon import TelegramClient
from telethon.sessions import StringSession

from bots.proxy import ProxyConfig, ensure_proxy_supported
from bots.telethon_updates import UpdatesState

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A small LRU map whose entries expire after ``ttl`` seconds."""

    def __init__(
        self, *, maxsize: int, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._maxsize = maxsize
        self._ttl = ttl
        self._clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        entry = self._items.get(key)
        if entry is None:
            return None
        expires, value = entry
        if self._clock() >= expires:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = (self._clock() + self._ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self._maxsize:
            self._items.popitem(last=False)


def build_telegram_client(
    *,
    session: str,
    api_id: int,
    api_hash: str,
    proxy: ProxyConfig | None = None,
    resume: UpdatesState | None = None,
) -> Any:
    """A ``TelegramClient`` wired for workers; builds objects only, never connects. With
    ``resume`` it catches up on what arrived since that state (``bots.telethon_updates``)."""
    kwargs: dict[str, Any] = {
        "flood_sleep_threshold": 0,  # every FloodWait reaches our scheduler
        "sequential_updates": True,  # our handler only enqueues: keeps arrival order for free
        "raise_last_call_error": True,  # the real error after retries, not a bare ValueError
    }
    if proxy is not None:
        ensure_proxy_supported(proxy)
        kwargs.update(proxy.telethon_args().as_kwargs())
    try:
        string_session = StringSession(session)
    except (ValueError, struct.error):  # binascii.Error is a ValueError
        raise ValueError("the stored session is not a valid Telethon string session") from None
    if resume is not None:
        string_session.set_update_state(0, resume.as_telethon())
        kwargs["catch_up"] = True
    with warnings.catch_warnings():
        # Telethon warns "proxy ignored" whenever python-socks is missing, even for MTProxy,
        # which does not use it; ensure_proxy_supported already refused the real cases.
        warnings.filterwarnings("ignore", message="proxy argument will be ignored")
        return TelegramClient(string_session, api_id, api_hash, **kwargs)
