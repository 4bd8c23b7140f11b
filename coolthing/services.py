"""Run one service in the foreground until SIGTERM / Ctrl-C (what `coolthing run NAME` does)."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import uvicorn
from prometheus_client import start_http_server

from core.platform import Platform, open_platform
from core.settings import Settings

T = TypeVar("T")


async def run_until_stopped(main: Callable[[], Awaitable[T]]) -> T | None:
    """Run ``main`` and cancel it cleanly on SIGTERM or SIGINT; what it returned, None when
    stopped."""
    task = asyncio.ensure_future(main())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        return None


def freeze_startup_heap() -> None:
    """Leave what start-up built (modules, compiled rules, the intent models: ~180,000 objects
    in the parser) out of the cyclic collector's full passes, which then took 110–190 ms each in
    the parser and the account workers and stalled the chat stream as long (bench.pipeline's
    p99; measured with gc.callbacks). What is made later is collected as before; rules
    recompiled on a configuration change are scanned like any new object."""
    gc.collect()
    gc.freeze()


def serve_metrics(settings: Settings) -> None:
    """Expose this process's Prometheus metrics when COOLTHING_METRICS_PORT is set."""
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.api_host)


async def run_parser(settings: Settings) -> None:
    from parser.bootstrap import start_parser

    serve_metrics(settings)
    async with open_platform(settings) as platform:
        parser = await start_parser(platform)
        freeze_startup_heap()
        try:
            await asyncio.Event().wait()
        finally:
            await parser.stop()  # the chat activity still in memory


async def run_manager(settings: Settings) -> None:
    from manager.bootstrap import start_manager

    serve_metrics(settings)
    async with open_platform(settings) as platform:
        manager = await start_manager(platform)
        freeze_startup_heap()
        try:
            await asyncio.Event().wait()
        finally:
            await manager.stop()


async def run_scripts(settings: Settings) -> None:
    from scripts.bootstrap import start_scripts

    serve_metrics(settings)
    async with open_platform(settings) as platform:
        scripts = await start_scripts(platform)
        freeze_startup_heap()
        try:
            await asyncio.Event().wait()
        finally:
            await scripts.stop()


async def run_notifier(settings: Settings) -> None:
    from notifier.bootstrap import start_notifier

    if settings.notifier_bot_token is None:
        raise SystemExit(
            "coolthing: COOLTHING_NOTIFIER_BOT_TOKEN is not set: create a bot with @BotFather "
            "(or in the sandbox) and set its token"
        )
    serve_metrics(settings)
    async with open_platform(settings) as platform:
        notifier = await start_notifier(platform)
        freeze_startup_heap()
        try:
            await asyncio.Event().wait()
        finally:
            await notifier.stop()


async def run_bots(settings: Settings, account_id: int) -> int:
    """One account's worker; the process's exit code (``bots.exit_codes``)."""
    from bots.bootstrap import run_worker

    serve_metrics(settings)
    async with open_platform(settings) as platform:
        freeze_startup_heap()  # its full passes took ~130 ms mid-stream (forked workers: frozen)
        return await run_worker(platform, account_id, join_interval=settings.join_interval)


async def run_watchdog(settings: Settings) -> None:
    from watchdog.bootstrap import start_watchdog

    serve_metrics(settings)
    async with open_platform(settings) as platform:
        watchdog = await start_watchdog(platform)
        try:
            await asyncio.Event().wait()
        finally:
            await watchdog.stop()


async def run_admin(settings: Settings) -> None:
    async with open_platform(settings) as platform:
        await serve_admin(platform)


async def serve_admin(platform: Platform) -> None:
    from admin.access.users import count_users
    from admin.app import create_app

    async with platform.db.session() as session:
        if not await count_users(session):
            logging.getLogger("coolthing.admin").warning(
                "no users yet: create the first owner with `coolthing users create --role owner "
                "LOGIN`, then an API token with `coolthing users token create LOGIN`"
            )
    app = create_app(db=platform.db, bus=platform.bus, settings=platform.settings, box=platform.box)
    config = uvicorn.Config(
        app,
        host=platform.settings.api_host,
        port=platform.settings.api_port,
        log_config=None,
        lifespan="off",
    )
    server = _QuietServer(config)
    serving = asyncio.create_task(server.serve())
    try:
        await asyncio.shield(serving)
    except asyncio.CancelledError:
        server.should_exit = True  # finish in-flight requests, then stop
        await serving
        raise


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the process's handler cancels the service."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run_sandbox(settings: Settings, *, audience: bool) -> None:
    from sandbox.bootstrap import serve

    runner = await serve(settings.sandbox_host, settings.sandbox_port, audience=audience)
    freeze_startup_heap()  # Telegram's stand-in should not stall the chat stream by itself
    try:
        await asyncio.Event().wait()
    finally:
        await runner.stop()
