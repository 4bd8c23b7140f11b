"""``python -m scripts``: the scripts service, the same as ``coolthing run scripts``."""

from coolthing.cli import run_service

run_service("scripts")
