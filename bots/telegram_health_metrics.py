"""Prometheus metrics of what Telegram does to each account (the per-account health dashboard).

``account`` is the account's id: bounded by the accounts an operator runs (tens to hundreds), so
it is a fair metric label; people (leads, chats) never are. Counted in the worker that saw it;
Prometheus scrapes workers through the watchdog's Docker labels (compose/prometheus/).
"""

from __future__ import annotations

from prometheus_client import Counter

FLOOD_WAIT_SECONDS = Counter(
    "coolthing_telegram_flood_wait_seconds",
    "Seconds of FloodWait Telegram imposed on an account (sends, joins, reads).",
    ["account"],
)
FLOOD_WAITS = Counter(
    "coolthing_telegram_flood_waits", "FloodWaits Telegram imposed on an account.", ["account"]
)
PEER_FLOODS = Counter(
    "coolthing_telegram_peer_floods",
    "PeerFlood limits put on an account (one per limit, however many sends ran into it).",
    ["account"],
)
SENDS = Counter(
    "coolthing_telegram_sends",
    "Sends of an account by outcome: sent, or the reason it failed (flood_wait, peer_flood, …).",
    ["account", "outcome"],
)


def flood_wait(account_id: int, seconds: int) -> None:
    FLOOD_WAITS.labels(str(account_id)).inc()
    FLOOD_WAIT_SECONDS.labels(str(account_id)).inc(max(seconds, 0))


def peer_flood(account_id: int) -> None:
    PEER_FLOODS.labels(str(account_id)).inc()


def sends(account_id: int, outcome: str, count: int = 1) -> None:
    if count:
        SENDS.labels(str(account_id), outcome).inc(count)
