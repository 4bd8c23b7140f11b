"""How a lead is named on a page: the name from their profile snapshot, else @username, else id."""

from __future__ import annotations

from collections.abc import Mapping


def display_name(profile: Mapping[str, object] | None, username: str | None, user_id: int) -> str:
    profile = profile or {}
    first = str(profile.get("first_name") or profile.get("name") or "").strip()
    last = str(profile.get("last_name") or "").strip()
    name = f"{first} {last}".strip()
    return name or (f"@{username}" if username else str(user_id))
