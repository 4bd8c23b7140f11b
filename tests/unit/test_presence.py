"""Who else has a conversation open: visitors drop off after a missed beat or two."""

from __future__ import annotations

from admin.pages.presence import TTL, Presence


def test_a_visitor_sees_colleagues_longest_first_and_a_closed_tab_drops_off() -> None:
    presence = Presence()
    assert presence.visit(7, "ann", now=100.0) == []
    presence.visit(7, "bob", now=105.0)
    seen = presence.visit(7, "cid", now=106.0)
    assert [(v.login, v.since) for v in seen] == [("ann", 100.0), ("bob", 105.0)]
    presence.visit(7, "ann", now=100.0 + TTL)  # ann keeps beating; bob's tab was closed
    later = presence.visit(7, "cid", now=106.0 + TTL + 1)
    assert [v.login for v in later] == ["ann"]
    assert presence.visit(8, "bob", now=106.0) == []  # another conversation
