"""The panel's built front-end files: where they are, and refusing to start without them."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "static"
VENDOR_FILES = (
    "tabler.min.css",
    "tabler.min.js",
    "htmx.min.js",
    "sse.min.js",
    "chart.umd.min.js",
)


class AssetsMissing(RuntimeError):
    """The npm packages were not built into admin/static/vendor."""


def check_assets() -> None:
    missing = [name for name in VENDOR_FILES if not (STATIC / "vendor" / name).is_file()]
    if missing:
        raise AssetsMissing(
            f"the panel's front-end files are not built ({', '.join(missing)} missing in "
            f"{STATIC / 'vendor'}): run `make assets` (needs npm)"
        )
