"""The left navigation: groups of pages, each shown to the roles that may open it."""

from __future__ import annotations

from dataclasses import dataclass

from core.access import Role


@dataclass(frozen=True)
class Entry:
    label: str  # translated in the template
    path: str
    role: Role


@dataclass(frozen=True)
class Group:
    label: str
    entries: tuple[Entry, ...]


NAVIGATION = (
    Group(
        "Work",
        (
            Entry("Dashboard", "/", Role.viewer),
            Entry("Inbox", "/inbox", Role.viewer),
            Entry("Leads", "/leads", Role.viewer),
            Entry("Scene runs", "/runs", Role.viewer),
        ),
    ),
    Group(
        "Setup",
        (
            Entry("Accounts", "/accounts", Role.viewer),
            Entry("Chats", "/chats", Role.viewer),
            Entry("Keyword sets", "/keyword-sets", Role.viewer),
            Entry("Campaigns", "/campaigns", Role.viewer),
            Entry("Prompts", "/prompts", Role.viewer),
            Entry("Scenes", "/scenes", Role.viewer),
        ),
    ),
    Group(
        "System",
        (
            Entry("Workers", "/system", Role.viewer),
            Entry("Alerts", "/alerts", Role.viewer),
            Entry("Dead letters", "/dead-letters", Role.admin),
            Entry("Audit log", "/audit", Role.admin),
            Entry("Do-not-contact", "/do-not-contact", Role.viewer),
            Entry("Workspace", "/workspace", Role.admin),
            Entry("Users", "/users", Role.owner),
            Entry("API tokens", "/me/tokens", Role.viewer),
            Entry("Telegram", "/me/telegram", Role.viewer),
        ),
    ),
)


def navigation_for(role: Role | None) -> list[Group]:
    if role is None:
        return []
    groups = [
        Group(group.label, tuple(e for e in group.entries if role.allows(e.role)))
        for group in NAVIGATION
    ]
    return [group for group in groups if group.entries]
