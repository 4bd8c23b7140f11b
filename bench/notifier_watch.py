"""The watcher of ``bench.notifier``, a process of its own so that reading the chats costs the
measured process nothing (no CPU, no GIL, no turns of its event loop).

Reads one JSON object on stdin: the sandbox's ``url``, the ``bot_id``, the ``chats``, how many
events of each key the storm will publish (``expected``), ``seconds`` to give up after and the
polling ``interval``. Prints ``{"ready": true}``, then every 100 ms reads each chat as its
operator sees it and prints ``{"t": <time.monotonic()>, "chat": id, "seen": {key: count}}``
whenever a chat shows more; ends when every chat shows everything (or at the deadline) with
``{"cpu": <its CPU seconds>}``. ``time.monotonic`` is the machine's clock, the same in every
process, so the caller compares it with its publishing times.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

import aiohttp

from bench.notifier_view import shown


def emit(line: dict[str, Any]) -> None:
    print(json.dumps(line), flush=True)


async def watch(config: dict[str, Any]) -> None:
    expected = Counter[str](config["expected"])
    chats: list[int] = config["chats"]
    last: dict[int, Counter[str]] = {chat: Counter() for chat in chats}
    deadline = time.monotonic() + float(config["seconds"])
    bot_id = int(config["bot_id"])

    async def read(http: aiohttp.ClientSession, chat: int) -> list[dict[str, Any]]:
        path = f"/_sandbox/bots/{bot_id}/chats/{chat}/messages?limit=1000"
        async with http.get(path) as response:
            payload = await response.json()
        if not payload.get("ok"):
            raise RuntimeError(f"the sandbox refused {path}: {payload}")
        return [m for m in payload["messages"] if m["from"]["id"] == bot_id]

    async with aiohttp.ClientSession(base_url=config["url"]) as http:
        emit({"ready": True})
        while time.monotonic() < deadline:
            reads = await asyncio.gather(*(read(http, chat) for chat in chats))
            now = time.monotonic()
            for chat, messages in zip(chats, reads, strict=True):
                seen = shown(messages)
                if seen != last[chat]:
                    last[chat] = seen
                    emit({"t": now, "chat": chat, "seen": dict(seen)})
            if all(seen >= expected for seen in last.values()):
                return
            await asyncio.sleep(float(config["interval"]))


def main() -> None:
    config = json.loads(sys.stdin.readline())
    try:
        asyncio.run(watch(config))
    finally:
        emit({"cpu": time.process_time()})


if __name__ == "__main__":
    main()
