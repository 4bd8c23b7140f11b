"""The route table with the role each route needs, as Markdown (``docs/api-access.md``).

``python -m admin.api.access_table > docs/api-access.md`` writes it; a unit test fails when the
committed file differs from what the app declares.
"""

from __future__ import annotations

import sys

from fastapi import FastAPI

from admin.access.deps import endpoints

HEADER = """\
# Who may call what

Generated from the app's route table by `python -m admin.api.access_table`; do not edit by hand.
`public`: anyone; `metrics`: loopback or the metrics token; a role: that role or above
(viewer < operator < admin < owner).

| method | path | needs |
|---|---|---|
"""


def render(app: FastAPI) -> str:
    rows = sorted(
        (method, endpoint.path, endpoint.access or "UNDECLARED")
        for endpoint in endpoints(app)
        for method in sorted(endpoint.methods - {"HEAD"})
    )
    rows.sort(key=lambda row: (row[1], row[0]))
    return HEADER + "".join(f"| {m} | `{p}` | {a} |\n" for m, p, a in rows)


def _app() -> FastAPI:
    from cryptography.fernet import Fernet

    from admin.app import create_app
    from core.bus.memory import InMemoryBus
    from core.db import Database
    from core.security import SecretBox
    from core.settings import Settings

    return create_app(
        db=Database("sqlite+aiosqlite://"),
        bus=InMemoryBus(),
        settings=Settings(),
        box=SecretBox(Fernet.generate_key()),
    )


if __name__ == "__main__":
    sys.stdout.write(render(_app()))
