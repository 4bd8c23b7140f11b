"""The notifier as its own process on PostgreSQL and RabbitMQ, alerts sent through the admin's
REST endpoint: SIGKILLed during a storm, it delivers every alert after a restart, each once (a
message that was in Telegram's hands at the kill may go again, and then says so)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx

from core.db import Database
from core.db.models import User
from core.security import SecretBox
from core.telegram_link_codes import new_code
from tests.conftest import Stack, password_hash, sandbox_call, wait_for

OPERATORS = (777_101, 777_102, 777_103)
ALERTS = 12
REPEAT_MARK = "Sent again after a restart"


async def _bot_messages(http: httpx.AsyncClient, stack: Stack, bot: int, chat: int) -> list[Any]:
    path = f"/_sandbox/bots/{bot}/chats/{chat}/messages?limit=1000"
    listed = await sandbox_call(http, stack, path)
    return [m for m in listed["messages"] if m["from"]["id"] == bot]


async def _boot(stack: Stack, http: httpx.AsyncClient) -> int:
    stack.start("sandbox", "sandbox")  # it needs no database: it starts while the schema is made
    await stack.migrate()
    await wait_for(
        lambda: sandbox_call(http, stack, "/_sandbox/health"), seconds=20, what="sandbox"
    )
    bot = await sandbox_call(http, stack, "/_sandbox/bots", {"username": "coolthing_bot"})
    stack.env["COOLTHING_NOTIFIER_BOT_TOKEN"] = bot["token"]
    stack.env["COOLTHING_NOTIFIER_API_URL"] = stack.sandbox_url
    http.headers["Authorization"] = f"Bearer {await stack.add_user('grafana', 'operator')}"
    stack.start("admin", "admin")
    stack.start("notifier", "notifier")
    await wait_for(lambda: http.get(f"{stack.api_url}/healthz"), seconds=30, what="the admin API")
    box = SecretBox(stack.env["COOLTHING_SECRET_KEY"].encode())
    db = Database(stack.env["COOLTHING_DATABASE_URL"])
    try:
        for n, chat in enumerate(OPERATORS):
            async with db.transaction() as session:
                user = User(login=f"op{n}", password_hash=password_hash(), role="operator")
                session.add(user)
                await session.flush()
                code, _ = new_code(box, user.id)
            body = {"user_id": chat, "first_name": user.login, "text": f"/start {code}"}
            await sandbox_call(http, stack, f"/_sandbox/bots/{bot['id']}/messages", body)
    finally:
        await db.close()

    async def all_linked() -> bool:
        for chat in OPERATORS:
            said = await _bot_messages(http, stack, bot["id"], chat)
            if not any(m["text"].startswith("Linked") for m in said):
                return False
        return True

    await wait_for(all_linked, seconds=30, what="the operators to be linked")
    return int(bot["id"])


async def test_a_notifier_killed_during_a_storm_delivers_every_alert_once_after_a_restart(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    bot = await _boot(stack, http)
    url = f"{stack.api_url}/api/v1/alerts"
    for n in range(ALERTS):
        body = {
            "title": f"Alert number {n:02d}",
            "fingerprint": f"storm-{n}",
            "severity": "critical",
        }
        answer = await http.post(url, json=body, headers={"Idempotency-Key": f"storm-{n}"})
        assert answer.status_code == 202, answer.text

    async def some_arrived() -> bool:
        said = await _bot_messages(http, stack, bot, OPERATORS[0])
        return sum("Alert number" in m["text"] for m in said) >= 3

    await wait_for(some_arrived, seconds=30, what="the storm to be under way")
    stack.kill("notifier")
    await asyncio.sleep(1)
    stack.start("notifier", "notifier")

    async def all_arrived() -> bool:
        for chat in OPERATORS:
            said = await _bot_messages(http, stack, bot, chat)
            if len({m["text"] for m in said if "Alert number" in m["text"]}) < ALERTS:
                return False
        return True

    await wait_for(all_arrived, seconds=90, what="every alert in every chat")
    for chat in OPERATORS:
        said = [m["text"] for m in await _bot_messages(http, stack, bot, chat)]
        plain = Counter(
            t.split("\n")[0] for t in said if "Alert number" in t and REPEAT_MARK not in t
        )
        repeats = [t for t in said if REPEAT_MARK in t]
        assert all(count == 1 for count in plain.values()), plain
        assert len(repeats) <= 1, "only the message in Telegram's hands at the kill may repeat"
    info = await sandbox_call(http, stack, f"/_sandbox/bots/{bot}")
    assert info["refused"] == 0
