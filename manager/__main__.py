"""``python -m manager``: the manager service, the same as ``coolthing run manager``."""

from coolthing.cli import run_service

run_service("manager")
