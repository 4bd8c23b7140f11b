"""``python -m parser``: the parser service, the same as ``coolthing run parser``."""

from coolthing.cli import run_service

run_service("parser")
