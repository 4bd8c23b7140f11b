"""``python -m watchdog``: the watchdog service, the same as ``coolthing run watchdog``."""

from coolthing.cli import run_service

run_service("watchdog")
