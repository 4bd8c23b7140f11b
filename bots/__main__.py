"""``python -m bots``: one account worker (`--account ID`), the same as ``coolthing run bots``."""

from coolthing.cli import run_service

run_service("bots")
