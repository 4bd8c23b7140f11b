"""``python -m notifier``: the notifier service, the same as ``coolthing run notifier``."""

from coolthing.cli import run_service

run_service("notifier")
