"""Webhook mode: setWebhook, getWebhookInfo, deleteWebhook, and the sandbox posting each update
to the bot's URL, as the Bot API server does (its WebhookActor, read in telegram-bot-api).

- Updates go out one at a time, in order, as JSON, with ``X-Telegram-Bot-Api-Secret-Token``
  when a secret was set; a 2xx answer confirms the update, anything else (a status, a refused
  connection, a timeout) is kept in ``last_error_date`` / ``last_error_message`` and the update
  is tried again after a pause (0.5 s doubling to 8 s). A method in the answer's body is not
  executed.
- While a webhook is set, getUpdates is refused with Telegram's 409.
- Like a self-hosted telegram-bot-api server (``--local``), any port and plain http are
  accepted; Telegram's own servers want https on 443, 80, 88 or 8443.
- Delivery stops when the sandbox stops, and resumes at the bot's next Bot API call or the next
  message written to it through the test endpoints.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from sandbox import botworld
from sandbox.errors import BotApiError
from sandbox.http import dumps

if TYPE_CHECKING:
    from sandbox.botworld import BotState
    from sandbox.http import Runtime

CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
POST_TIMEOUT = 10.0  # seconds a webhook may take to answer one update
_SECRET = re.compile(r"^[A-Za-z0-9_-]*$")
_FIRST_RETRY, _LAST_RETRY = 0.5, 8.0


@dataclass(eq=False)
class Webhook:
    url: str
    secret_token: str
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str | None = None
    task: asyncio.Task[None] | None = None


def _flag(value: Any) -> bool:
    return value in (True, "true", "True", "1", 1)


async def set_webhook(rt: Runtime, bot: BotState, raw: dict[str, Any]) -> Any:
    url = str(raw.get("url") or "")
    if not url:
        return await delete_webhook(rt, bot, raw)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BotApiError.bad_request("invalid webhook URL specified")
    secret = str(raw.get("secret_token") or "")
    if len(secret) > 256:
        raise BotApiError.bad_request("secret token is too long")
    if not _SECRET.match(secret):
        raise BotApiError.bad_request("secret token contains unallowed characters")
    if raw.get("allowed_updates") is not None:
        bot.allowed_updates = _updates(raw["allowed_updates"])
    _drop_pending(bot, raw)
    connections = int(raw.get("max_connections") or 40)
    _stop(bot)
    bot.webhook = Webhook(url, secret, min(max(connections, 1), 100))
    bot.poll_generation += 1  # a long poll in progress ends with the conflict
    bot.signal.notify()
    ensure_delivery(rt, bot)
    return True


async def delete_webhook(rt: Runtime, bot: BotState, raw: dict[str, Any]) -> Any:
    _drop_pending(bot, raw)
    _stop(bot)
    return True


async def get_webhook_info(rt: Runtime, bot: BotState, raw: dict[str, Any]) -> Any:
    hook = bot.webhook
    info: dict[str, Any] = {
        "url": hook.url if hook else "",
        "has_custom_certificate": False,
        "pending_update_count": bot.updates.end - bot.updates.start,
    }
    if hook is not None:
        ensure_delivery(rt, bot)
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
        info["max_connections"] = hook.max_connections
        info["ip_address"] = "127.0.0.1"
    if bot.allowed_updates:
        info["allowed_updates"] = bot.allowed_updates
    return info


def check_polling_allowed(bot: BotState) -> None:
    if bot.webhook is not None:
        raise BotApiError(409, CONFLICT)


def ensure_delivery(rt: Runtime, bot: BotState) -> None:
    """Start posting updates if the bot has a webhook and nothing posts them (yet, or since a
    sandbox restart)."""
    hook = bot.webhook
    if hook is None or rt.stopping or (hook.task is not None and not hook.task.done()):
        return
    hook.task = asyncio.get_running_loop().create_task(
        _deliver(rt, bot, hook), name=f"sandbox-webhook-{bot.id}"
    )


def _updates(value: Any) -> list[str]:
    parsed = json.loads(value) if isinstance(value, str) else value
    if not isinstance(parsed, list) or not all(isinstance(kind, str) for kind in parsed):
        raise BotApiError.bad_request("can't parse allowed_updates JSON array")
    return parsed


def _drop_pending(bot: BotState, raw: dict[str, Any]) -> None:
    if _flag(raw.get("drop_pending_updates")):
        bot.updates.discard_before(bot.updates.end)


def _stop(bot: BotState) -> None:
    if bot.webhook is not None and bot.webhook.task is not None:
        bot.webhook.task.cancel()
    bot.webhook = None


async def _deliver(rt: Runtime, bot: BotState, hook: Webhook) -> None:
    """Post pending updates one by one until the webhook changes or the sandbox stops."""
    pause = 0.0
    timeout = aiohttp.ClientTimeout(total=POST_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        while bot.webhook is hook and not rt.stopping:
            pending = botworld.pending_updates(bot, None, 1)
            if not pending:
                await bot.signal.wait(5.0)
                continue
            error = await _post(http, hook, pending[0])
            if error is None:
                bot.updates.discard_before(pending[0]["update_id"])  # update_id = position + 1
                pause = 0.0
                continue
            hook.last_error_date, hook.last_error_message = int(rt.world.clock()), error
            pause = min(max(pause * 2, _FIRST_RETRY), _LAST_RETRY)
            await asyncio.sleep(pause)


async def _post(http: aiohttp.ClientSession, hook: Webhook, update: dict[str, Any]) -> str | None:
    """None when the webhook took the update, else the error Telegram would report."""
    headers = {"Content-Type": "application/json"}
    if hook.secret_token:
        headers[SECRET_HEADER] = hook.secret_token
    try:
        async with http.post(hook.url, data=dumps(update), headers=headers) as response:
            await response.read()
            if 200 <= response.status < 300:
                return None
            return f"Wrong response from the webhook: {response.status} {response.reason}"
    except aiohttp.ClientConnectorError:
        return "Connection refused"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return f"Connection error: {type(exc).__name__}"
