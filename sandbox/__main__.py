"""``python -m sandbox --host 127.0.0.1 --port 8081 [--audience]``: serve until Ctrl+C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from sandbox.audience import AudienceStart
from sandbox.bootstrap import serve


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--audience", action="store_true", help="start the simulated audience")
    parser.add_argument("--rate", type=float, default=1.0, help="audience messages per second")
    parser.add_argument("--seed", type=int, default=0, help="audience seed")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args()


async def _run(args: argparse.Namespace) -> None:
    config = AudienceStart(rate=args.rate, seed=args.seed)
    sandbox = await serve(args.host, args.port, audience=args.audience, audience_config=config)
    logging.getLogger("sandbox").info("sandbox Telegram on %s", sandbox.url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sandbox.stop()


def main() -> None:
    args = _args()
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(_run(args))


if __name__ == "__main__":
    main()
