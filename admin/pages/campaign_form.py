"""The campaign form's fields: every setting of the outreach block, grouped in sections with
help text, and the conversions between what a browser sends (text) and what ``CampaignSpec``
reads. Blank numbers mean the default; lists are one item per line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from admin.pages.names import N_
from core.outreach import OutreachPolicy


@dataclass(frozen=True)
class Field:
    name: str  # OutreachPolicy's; the form's input is "outreach.<name>"
    kind: str  # text, textarea, lines, int, float, bool
    label: str
    help: str = ""

    @property
    def key(self) -> str:
        return f"outreach.{self.name}"


@dataclass(frozen=True)
class Section:
    title: str
    fields: tuple[Field, ...]


SECTIONS = (
    Section(
        N_("What the messages say"),
        (
            Field(
                "offer",
                "textarea",
                N_("Offer"),
                N_("What you sell, in a few sentences; prompt and templates quote it as {offer}."),
            ),
            Field(
                "prompt",
                "textarea",
                N_("Prompt template"),
                N_("Jinja2 for the model: {{ offer }}, {{ lead_message }}, {{ profile.name }}."),
            ),
            Field(
                "templates",
                "lines",
                N_("Offline templates, one per line"),
                N_("Without a model: {a|b} picks a variant; {name} and {offer} are filled in."),
            ),
            Field(
                "follow_ups",
                "lines",
                N_("Follow-ups, one per line"),
                N_("The offline writer's later messages; empty: a built-in polite follow-up."),
            ),
            Field(
                "stages",
                "lines",
                N_("Stages, one per line"),
                N_("The conversation's steps in order; the last one ends it."),
            ),
            Field(
                "max_stage_step",
                "int",
                N_("Stages one message may advance"),
                N_("A bigger jump is held for an operator."),
            ),
        ),
    ),
    Section(
        N_("Pace and caps"),
        (
            Field(
                "new_dms_per_day",
                "int",
                N_("New conversations per account per day"),
                N_("First messages to new people; Telegram limits strangers' DMs."),
            ),
            Field("messages_per_minute", "int", N_("Messages per account per minute")),
            Field(
                "warmup_days",
                "int",
                N_("Warm-up days"),
                N_("A new account starts slow and reaches the daily cap after this many days."),
            ),
            Field("warmup_start_dms", "int", N_("New conversations on the first day")),
            Field("min_gap_seconds", "float", N_("Shortest gap between messages, seconds")),
            Field(
                "max_gap_seconds",
                "float",
                N_("Longest gap between messages, seconds"),
                N_("Each gap is picked at random between the two, like a person typing."),
            ),
            Field(
                "contact_window_days",
                "int",
                N_("Days before the same person may get a first message again"),
                N_("Across all campaigns; 0 writes to anyone once per campaign."),
            ),
        ),
    ),
    Section(
        N_("When to write"),
        (
            Field(
                "timezone",
                "text",
                N_("Time zone"),
                N_("The leads' time zone, like Europe/Moscow; quiet hours are read in it."),
            ),
        ),
    ),
    Section(
        N_("Approval"),
        (
            Field(
                "approval",
                "bool",
                N_("Every draft waits for an operator"),
                N_("Drafts appear in the inbox to approve, edit or reject."),
            ),
            Field("approval_hours", "float", N_("Hours a draft waits before it expires")),
        ),
    ),
    Section(
        N_("What messages may contain"),
        (
            Field(
                "allowed_links",
                "lines",
                N_("Allowed links, one per line"),
                N_("A draft with any other link is held; empty: no links at all."),
            ),
            Field(
                "allowed_contacts",
                "lines",
                N_("Allowed contacts, one per line"),
                N_("The team's own @usernames, e-mail addresses and phone numbers."),
            ),
            Field("min_length", "int", N_("Shortest message, characters")),
            Field("max_length", "int", N_("Longest message, characters")),
        ),
    ),
    Section(
        N_("Opt-out and hand-off"),
        (
            Field(
                "opt_out_phrases",
                "lines",
                N_("Opt-out phrases, one per line"),
                N_("Empty: the built-in list. Whoever says one is never written to again."),
            ),
            Field("opt_out_reply", "textarea", N_("Reply to an opt-out")),
            Field(
                "handoff_phrases",
                "lines",
                N_("Hand-off phrases, one per line"),
                N_("A person who says one gets an operator instead of the model."),
            ),
            Field(
                "max_turns",
                "int",
                N_("Our messages per conversation"),
                N_("Then the conversation is finished."),
            ),
            Field("history_turns", "int", N_("Earlier messages the model sees")),
        ),
    ),
    Section(
        N_("Model"),
        (
            Field("llm_model", "text", N_("Model"), N_("Empty: the installation's default.")),
            Field(
                "llm_base_url",
                "text",
                N_("API address"),
                N_("An OpenAI-compatible endpoint; empty: the default."),
            ),
        ),
    ),
)
FIELDS = {f.name: f for section in SECTIONS for f in section.fields}
QUIET_ON, QUIET_START, QUIET_END = (
    "outreach.quiet_hours",
    "outreach.quiet_hours.start",
    "outreach.quiet_hours.end",
)
LISTS = ("chats", "keyword_sets", "parser_accounts", "manager_accounts")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def outreach_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The outreach block as the workspace file would hold it; blank numbers are left out."""
    raw: dict[str, Any] = {}
    for name, f in FIELDS.items():
        text = form.get(f.key, "").replace("\r\n", "\n")
        if f.kind == "bool":
            raw[name] = bool(text)
        elif f.kind == "lines":
            items = _lines(text)
            if items or name != "opt_out_phrases":  # none: the built-in list
                raw[name] = items
        elif f.kind in ("int", "float"):
            if text.strip():
                raw[name] = text.strip()
        elif name in ("llm_model", "llm_base_url"):
            raw[name] = text.strip() or None
        else:
            raw[name] = text
    if form.get(QUIET_ON):
        raw["quiet_hours"] = {"start": form.get(QUIET_START, ""), "end": form.get(QUIET_END, "")}
    else:
        raw["quiet_hours"] = None
    return raw


def _shown(value: Any) -> str:
    if value is None or value is False:
        return ""
    if value is True:
        return "on"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple | list):
        return "\n".join(str(v) for v in value)
    return str(value)


def typed_from_policy(policy: OutreachPolicy) -> dict[str, str]:
    """The form's inputs showing ``policy`` (a stored campaign's, or the defaults)."""
    typed = {f.key: _shown(getattr(policy, name)) for name, f in FIELDS.items()}
    quiet = policy.quiet_hours
    typed[QUIET_ON] = "on" if quiet else ""
    typed[QUIET_START] = quiet.start if quiet else "22:00"
    typed[QUIET_END] = quiet.end if quiet else "09:00"
    return typed


DATA_WORDS = (N_("Chats"), N_("Campaigns"), N_("paused"), N_("stopped"), N_("running"))
