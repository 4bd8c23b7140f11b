"""The alert storm of ``bench.notifier``: which events, published when, and when each became
visible in each operator's chat (read back from the sandbox as the operator would see it)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bench.notifier_setup import Seeded
from bench.notifier_view import API_ALERTS, BANNED, LIMITED
from core.events import AccountBanned, AlertRaised, LeadFound, Payload, SendFailed, Severity

SEED = 7
SEVERITIES: tuple[Severity, ...] = ("warning", "critical", "warning", "warning")


@dataclass(frozen=True)
class Planned:
    payload: Payload
    key: str  # what shows it: "leads", "account:<name>", "alert:<title>"
    # Visible once the chat shows this many of its key: the k-th new lead needs k counted; a
    # repeat of a firing account or API alert needs its line or message there (its "×N"
    # counter is not waited for: a repeat tells the operator nothing new).
    ordinal: int
    text: str  # the one message a naive bot would send for it


def plan(events: int, seeded: Seeded) -> list[Planned]:
    """Mostly new leads in three campaigns; ~3 % account trouble (a few bans, PeerFlood limits
    that keep failing sends); ~3 % API alerts with four fingerprints repeating."""
    alerts = max(len(API_ALERTS), events * 3 // 100)
    troubles = max(len(BANNED) + len(LIMITED), events * 3 // 100)
    leads = events - alerts - troubles
    if leads > len(seeded.leads):
        raise ValueError(f"{leads} lead events need as many lead rows")
    kinds = ["lead"] * leads + ["trouble"] * troubles + ["alert"] * alerts
    random.Random(SEED).shuffle(kinds)
    counts: Counter[str] = Counter()
    planned = []
    for n, what in enumerate(kinds):
        if what == "lead":
            payload, key, said = _lead(seeded, counts["lead-rows"])
            counts["lead-rows"] += 1
        elif what == "trouble":
            payload, key, said = _trouble(seeded, n, counts["trouble"])
            counts["trouble"] += 1
        else:
            payload, key, said = _api_alert(seeded, counts["alert"])
            counts["alert"] += 1
        counts[key] += 1
        planned.append(Planned(payload, key, counts[key] if key == "leads" else 1, said))
    return planned


def _lead(seeded: Seeded, n: int) -> tuple[Payload, str, str]:
    lead_id, campaign_id, user_id = seeded.leads[n]
    payload = LeadFound(
        lead_id=lead_id,
        campaign_id=campaign_id,
        telegram_user_id=user_id,
        chat_id=-1_000_000_000_001,
        message_id=100 + n,
        text="Looking for a developer",
        keywords=["developer"],
        is_new=True,
    )
    return payload, "leads", f"🎯 New lead #{lead_id} in campaign {campaign_id}"


def _trouble(seeded: Seeded, n: int, k: int) -> tuple[Payload, str, str]:
    # Bans come once or twice; a PeerFlood-limited account fails send after send.
    names = (*BANNED, *LIMITED, *LIMITED, *LIMITED)
    name = names[k % len(names)]
    account_id = seeded.accounts[name]
    if name in BANNED:
        payload: Payload = AccountBanned(account_id=account_id, reason="USER_DEACTIVATED_BAN")
        return payload, f"account:{name}", f"🔴 {name} is banned"
    payload = SendFailed(
        idempotency_key=f"bench-send-{n}",
        account_id=account_id,
        conversation_id=1,
        message_id=n,
        peer_user_id=6_000_000 + n,
        reason="peer_flood",
        detail="PEER_FLOOD",
    )
    return payload, f"account:{name}", f"🟠 {name} is PeerFlood-limited"


def _api_alert(seeded: Seeded, k: int) -> tuple[Payload, str, str]:
    title, severity = API_ALERTS[k % len(API_ALERTS)], SEVERITIES[k % len(API_ALERTS)]
    payload = AlertRaised(
        source="api",
        sender_user_id=seeded.owner_id,
        sender_login="bench-ops",
        severity=severity,
        title=title,
        text="Raised by bench.notifier",
        fingerprint=f"bench-{k % len(API_ALERTS)}",
    )
    return payload, f"alert:{title}", f"⚠️ {title}"


async def paced(
    planned: list[Planned], seconds: float, send: Callable[[Planned], Awaitable[None]]
) -> tuple[list[float], float]:
    """Hand each event to ``send`` at an even pace over ``seconds``; returns when each went
    (``time.monotonic``) and the CPU seconds spent in ``send`` (the load generator's share)."""
    started = time.monotonic()
    gap = seconds / len(planned)
    published: list[float] = []
    cpu = 0.0
    for n, event in enumerate(planned):
        delay = started + n * gap - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        published.append(time.monotonic())
        before = time.process_time()
        await send(event)
        cpu += time.process_time() - before
    return published, cpu


@dataclass
class Visibility:
    """When each planned event became visible in each chat (``time.monotonic``)."""

    planned: list[Planned]
    chats: list[int]
    published: list[float]  # when each planned event went out (filled as the storm goes)
    at: dict[tuple[int, int], float] = field(default_factory=dict)  # (event, chat) → time
    _pending: dict[int, dict[str, list[int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        by_key: dict[str, list[int]] = {}
        for n, event in enumerate(self.planned):
            by_key.setdefault(event.key, []).append(n)
        self._pending = {chat: {k: list(v) for k, v in by_key.items()} for chat in self.chats}

    def update(self, chat: int, seen: Counter[str], now: float) -> None:
        """Events whose ordinal the chat now shows are visible from ``now`` on; a repeat of an
        alert already on screen is visible as it is published."""
        for key, waiting in self._pending[chat].items():
            while waiting and self.planned[waiting[0]].ordinal <= seen[key]:
                n = waiting.pop(0)
                self.at[(n, chat)] = max(now, self.published[n])

    def missing(self, published: int) -> int:
        """(event, chat) pairs published so far and not yet visible."""
        return published * len(self.chats) - sum(1 for n, _ in self.at if n < published)
