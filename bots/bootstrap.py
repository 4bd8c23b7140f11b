"""Wire one account worker with the Telegram adapter the settings ask for."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from bots.exit_codes import EXIT_ACCOUNT_UNUSABLE
from bots.heartbeat import Heartbeat
from bots.proxy import ProxyConfig, parse_proxy_url
from bots.worker import AccountWorker, ClientFactory, ProxyOf
from core.db.models import Account
from core.platform import Platform
from core.telegram import AccountClient


def client_factory(platform: Platform) -> ClientFactory:
    settings = platform.settings
    box = platform.box

    def make(account: Account) -> AccountClient:
        session = box.decrypt(account.session_secret)
        proxy = box.decrypt(account.proxy_secret) if account.proxy_secret else None
        if settings.telegram_backend == "sandbox":
            from bots.sandbox_client import SandboxAccountClient

            saved = account.updates_cursor or ""
            cursor = int(saved) if saved.isdigit() else None  # another backend's: start fresh
            return SandboxAccountClient(settings.sandbox_url, session, cursor=cursor)
        from bots.telethon_client import TelethonAccountClient

        if settings.telegram_api_id is None or settings.telegram_api_hash is None:
            raise RuntimeError(
                "COOLTHING_TELEGRAM_API_ID and COOLTHING_TELEGRAM_API_HASH are required for the "
                "telethon backend (get them at my.telegram.org)"
            )
        return TelethonAccountClient(
            session,
            api_id=settings.telegram_api_id,
            api_hash=settings.telegram_api_hash.get_secret_value(),
            proxy=proxy,
            updates_cursor=account.updates_cursor,
            media_dir=settings.media_dir,  # scenes' photos and stickers named by file
        )

    return make


def proxy_of(platform: Platform) -> ProxyOf | None:
    """The account's parsed proxy, for reporting a proxy that cannot be reached; None for the
    sandbox, which connects directly whatever the account says."""
    if platform.settings.telegram_backend == "sandbox":
        return None
    box = platform.box

    def parse(account: Account) -> ProxyConfig | None:
        if account.proxy_secret is None:
            return None
        return parse_proxy_url(box.decrypt(account.proxy_secret))

    return parse


def build_worker(platform: Platform, account_id: int, *, join_interval: float) -> AccountWorker:
    settings = platform.settings
    return AccountWorker(
        account_id=account_id,
        db=platform.db,
        bus=platform.bus,
        relay=platform.relay,
        client_factory=client_factory(platform),
        join_interval=join_interval,
        flood_wait_hold=settings.flood_wait_hold,
        peer_flood_cooldown=timedelta(hours=settings.peer_flood_cooldown_hours),
        proxy_of=proxy_of(platform),
        chat_batch_delay=settings.chat_batch_delay,
    )


async def run_worker(platform: Platform, account_id: int, *, join_interval: float) -> int:
    """The worker beside its heartbeat, until cancelled or the account is lost; the exit code
    for the watchdog (``bots.exit_codes``): ``AccountWorker.run`` returns only when the account
    cannot be used."""
    settings = platform.settings
    worker = build_worker(platform, account_id, join_interval=join_interval)
    instance = settings.watchdog_worker_instance or uuid.uuid4().hex
    heartbeat = Heartbeat(
        platform.db, account_id, instance=instance, every=settings.watchdog_heartbeat_interval
    )
    beating = asyncio.create_task(heartbeat.run(), name="heartbeat")
    try:
        await worker.run()
    finally:
        beating.cancel()
        await asyncio.gather(beating, return_exceptions=True)
        await heartbeat.clear()
    return EXIT_ACCOUNT_UNUSABLE
