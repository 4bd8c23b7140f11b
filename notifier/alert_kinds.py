"""What the notifier knows about each kind of alert: its subscription family, severity, how it
groups, and what can mute it.
"""

from __future__ import annotations

from dataclasses import dataclass

from notifier.texts import N_


@dataclass(frozen=True)
class Kind:
    family: str  # what a subscription turns on or off
    severity: str  # info | warning | critical (an alert from outside brings its own)
    grouped: bool  # alerts of the family within the window share one message
    buttons: bool = False  # the message acts (approve, take over): one alert per message


KINDS: dict[str, Kind] = {
    "draft.pending": Kind("drafts", "warning", grouped=False, buttons=True),
    "conversation.handoff": Kind("handoffs", "warning", grouped=False, buttons=True),
    "conversation.reply": Kind("handoffs", "info", grouped=False, buttons=True),
    "lead.new": Kind("leads", "info", grouped=True),
    # The second stage was unsure and the campaign asks its operators: a question with buttons.
    "lead.ask": Kind("leads", "info", grouped=False, buttons=True),
    "account.banned": Kind("accounts", "critical", grouped=True),
    "account.revoked": Kind("accounts", "critical", grouped=True),
    "account.limited": Kind("accounts", "warning", grouped=True),
    "account.flood_wait": Kind("accounts", "warning", grouped=True),
    "worker.crashed": Kind("operations", "critical", grouped=True),
    "run.finished": Kind("operations", "info", grouped=True),
    "run.failed": Kind("operations", "critical", grouped=True),
    "dead_letters": Kind("operations", "warning", grouped=False),
    # REST and Alertmanager: warnings and infos within the window share a message (Alertmanager's
    # grouping); a critical one gets its own (see ``grouping.group_key``).
    "alert": Kind("alerts", "warning", grouped=True),
}

# The families a subscription lists, in the order /settings shows them.
FAMILIES: dict[str, str] = {
    "drafts": N_("Drafts to approve"),
    "handoffs": N_("Conversations for a person"),
    "leads": N_("New leads"),
    "accounts": N_("Accounts: bans, limits"),
    "operations": N_("Operations: workers, runs, dead letters"),
    "alerts": N_("Alerts from the API and Alertmanager"),
}

# An alert of the key's kind is muted while one of these fires about the same subject: a banned
# account's worker stopping is the ban, not a crash to page about.
INHIBITED_BY: dict[str, tuple[str, ...]] = {
    "worker.crashed": ("account.banned", "account.revoked"),
}

SEVERITIES = ("info", "warning", "critical")


def kind(name: str) -> Kind:
    return KINDS.get(name, KINDS["alert"])
