"""How ``bench.notifier`` reads an operator's chat: how many events of each kind the bot's
messages show. Light on imports: the watcher process loads only this and aiohttp."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

BANNED = ("acct-banned-1", "acct-banned-2", "acct-banned-3")
LIMITED = ("acct-limited-1", "acct-limited-2", "acct-limited-3")
# API alerts that keep firing while the storm lasts.
API_ALERTS = (
    "Disk 91% full on db-1",
    "API p95 over 2 s",
    "Queue parser.messages backing up",
    "TLS certificate expires in 7 days",
)
LEADS_HEADER = re.compile(r"^🎯 (\d+) new leads?\b")
REPEATS = re.compile(r"×(\d+)")


def shown(messages: list[dict[str, Any]]) -> Counter[str]:
    """How many events of each key the bot's messages in one chat show now.

    New leads: the header counts ("12 new leads · …", summed over the chat's lead messages);
    account lines and API alerts (a message each, or a line each in a grouped "Alerts" message):
    one, or the "×N" repeat count on their line or footer."""
    seen: Counter[str] = Counter()
    for message in messages:
        lines = message["text"].split("\n")
        if header := LEADS_HEADER.match(lines[0]):
            seen["leads"] += int(header.group(1))
            continue
        if lines[0].startswith("⚠️ Accounts"):
            for line in lines[1:]:
                name = next((a for a in (*BANNED, *LIMITED) if line.startswith(f"{a} ", 2)), None)
                if name is None:
                    continue
                repeat = REPEATS.search(line)
                seen[f"account:{name}"] += int(repeat.group(1)) if repeat else 1
            continue
        if lines[0].startswith("⚠️ Alerts"):  # API alerts grouped: one line each
            for line in lines[1:]:
                title = next((t for t in API_ALERTS if line.startswith(t, 2)), None)
                if title is not None:
                    repeat = REPEATS.search(line)
                    seen[f"alert:{title}"] += int(repeat.group(1)) if repeat else 1
            continue
        title = lines[0].split(" ", 1)[-1]
        if title in API_ALERTS:
            repeat = REPEATS.search(message["text"])
            seen[f"alert:{title}"] += int(repeat.group(1)) if repeat else 1
    return seen
