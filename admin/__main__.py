"""``python -m admin``: the admin API, the same as ``coolthing run admin``."""

from coolthing.cli import run_service

run_service("admin")
