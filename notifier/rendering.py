"""An alert message as the recipient sees it: HTML text in their language and its buttons.

Rendered from the alerts the message carries, every time it is sent or edited, so a message
always shows the current state: "Approved by X at T" with its buttons gone, "12 new leads",
a resolved limit. The text is cut to Telegram's limit without breaking markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiogram.types import InlineKeyboardMarkup

from core.db.notifier_models import Alert
from notifier import telegram_html as h
from notifier.alert_kinds import kind
from notifier.buttons import (
    APPROVE,
    HAND_BACK,
    REJECT,
    TAKE_OVER,
    AlertPress,
    Button,
    keyboard,
    silence_row,
)
from notifier.rendering_groups import GroupSummary, render_group
from notifier.rendering_leads import MARKED, ask, lead_block, new_lead
from notifier.rendering_workers import worker_crashed
from notifier.texts import N_, Texts

DRAFT_TEXT = 1500
OUTCOMES = {
    "approved": N_("✅ Approved by {by} at {at}"),
    "edited_and_approved": N_("✅ Edited and approved by {by} at {at}"),
    "rejected": N_("🚫 Rejected by {by} at {at}"),
    "expired": N_("⌛ Expired at {at}: nobody decided in time"),
    "taken_over": N_("🤝 Taken over by {by} at {at}"),
    "handed_back": N_("↩️ Handed back to automation by {by} at {at}"),
    "resolved": N_("✅ Resolved at {at}"),
    "already": N_("☑️ Handled at {at}: {detail}"),
    **MARKED,
}


@dataclass(frozen=True)
class Rendered:
    html: str
    markup: InlineKeyboardMarkup | None
    silent: bool  # no sound: information, not a page


@dataclass(frozen=True)
class View:
    """What rendering needs besides the alerts."""

    texts: Texts
    panel_url: str
    holds_conversation: frozenset[int]  # conversations this chat took over from Telegram
    resent: bool = False
    now: datetime | None = None
    summary: GroupSummary | None = None  # a grouped message's totals, when it has many alerts


def render(alerts: list[Alert], view: View) -> Rendered:
    if not alerts:
        raise ValueError("a message carries at least one alert")
    first = alerts[0]
    alone = len(alerts) == 1 and (view.summary is None or view.summary.total == 1)
    if first.kind in SINGLE and (alone or not kind(first.kind).grouped):
        body, rows = SINGLE[first.kind](first, view)
        silent = first.severity == "info"
    else:
        body, rows = render_group(alerts, view.texts, view.now, view.summary)
        rows = rows + ([silence_row(view.texts, alerts[-1].id)] if _firing(alerts) else [])
        silent = all(a.severity == "info" for a in alerts)
    if view.resent:
        body += "\n\n" + h.italic(view.texts("↻ Sent again after a restart: it may be a repeat."))
    return Rendered(h.cut(body), keyboard(rows), silent)


def _firing(alerts: list[Alert]) -> bool:
    return any(a.state == "firing" for a in alerts)


def outcome_line(alert: Alert, texts: Texts, now: datetime | None = None) -> str:
    template = OUTCOMES.get(alert.outcome or "", N_("☑️ Handled by {by} at {at}"))
    at = alert.handled_at or alert.resolved_at
    by = alert.handled_by or texts("automation")
    return h.bold(texts(template, by=by, at=texts.when(at, now=now), detail=alert.outcome))


def _panel(view: View, path: str) -> Button:
    return (view.texts("Open in panel"), view.panel_url.rstrip("/") + path)


def _draft(alert: Alert, view: View) -> tuple[str, list[list[Button]]]:
    texts, data = view.texts, alert.data
    conversation = int(data.get("conversation_id") or 0)
    head = "📝 " + h.bold(texts("Draft to approve")) + " · " + h.esc(data.get("campaign"))
    parts = [head, lead_block(alert, texts)]
    if data.get("reason"):
        parts.append(texts("Why it waits: {reason}", reason=h.esc(data["reason"])))
    parts.append(h.bold(texts("Draft:")) + "\n" + h.quote(h.shorten(alert.text, DRAFT_TEXT)))
    panel = [_panel(view, f"/inbox/{conversation}")]
    if alert.state == "firing":
        parts.append(h.italic(texts("To change it, reply to this message with your text.")))
        rows: list[list[Button]] = [
            [
                (texts("Approve"), AlertPress(act=APPROVE, alert=alert.id)),
                (texts("Reject"), AlertPress(act=REJECT, alert=alert.id)),
            ],
            [(texts("Take over"), AlertPress(act=TAKE_OVER, alert=alert.id)), *panel],
        ]
        return "\n\n".join(parts), rows
    parts.append(outcome_line(alert, texts, view.now))
    return "\n\n".join(parts), _holder_rows(alert, view, conversation)


def _holder_rows(alert: Alert, view: View, conversation: int) -> list[list[Button]]:
    """After a take-over from Telegram, the person holding it can hand it back from here."""
    if alert.outcome == "taken_over" and conversation in view.holds_conversation:
        return [[(view.texts("Hand back"), AlertPress(act=HAND_BACK, alert=alert.id))]]
    return []


def _dialogue(data: dict[str, Any], texts: Texts) -> str:
    lines = []
    turns: list[dict[str, str]] = data.get("dialogue") or []
    for turn in turns:
        who = texts("them") if turn.get("from") == "in" else texts("us")
        said = h.shorten(str(turn.get("text", "")), 300)
        lines.append(f"{h.bold(who)}: {h.esc(said)}")
    return "\n".join(lines)


def _handoff(alert: Alert, view: View) -> tuple[str, list[list[Button]]]:
    texts, data = view.texts, alert.data
    conversation = int(data.get("conversation_id") or 0)
    head = "🙋 " + h.bold(texts("{person} needs a person", person=data.get("person")))
    parts = [head + " · " + h.esc(data.get("campaign"))]
    parts.append(texts("Why: {reason}", reason=h.esc(data.get("reason") or "")))
    dialogue = _dialogue(data, texts)
    if dialogue:
        parts.append(h.bold(texts("The conversation so far:")) + "\n" + dialogue)
    if alert.state == "firing":
        rows: list[list[Button]] = [
            [(texts("Take over"), AlertPress(act=TAKE_OVER, alert=alert.id))],
            [_panel(view, f"/inbox/{conversation}")],
        ]
        return "\n\n".join(parts), rows
    parts.append(outcome_line(alert, texts, view.now))
    if alert.outcome == "taken_over" and conversation in view.holds_conversation:
        parts.append(h.italic(texts("Reply to this message to answer them.")))
    return "\n\n".join(parts), _holder_rows(alert, view, conversation)


def _reply(alert: Alert, view: View) -> tuple[str, list[list[Button]]]:
    texts, data = view.texts, alert.data
    conversation = int(data.get("conversation_id") or 0)
    head = "💬 " + h.bold(texts("{person} wrote:", person=data.get("person")))
    parts = [head, h.quote(h.shorten(alert.text, 3000))]
    if alert.state == "firing" and conversation in view.holds_conversation:
        parts.append(h.italic(texts("Reply to this message to answer them.")))
        rows: list[list[Button]] = [
            [(texts("Hand back"), AlertPress(act=HAND_BACK, alert=alert.id))]
        ]
        return "\n\n".join(parts), rows
    if alert.state != "firing":
        parts.append(outcome_line(alert, texts, view.now))
    return "\n\n".join(parts), []


SEVERITY_MARK = {"info": "ℹ️", "warning": "⚠️", "critical": "🔴"}


def _custom(alert: Alert, view: View) -> tuple[str, list[list[Button]]]:
    texts = view.texts
    mark = SEVERITY_MARK.get(alert.severity, "⚠️")
    parts = [f"{mark} {h.bold(alert.title)}"]
    if alert.text:
        parts.append(h.esc(h.shorten(alert.text, 3000)))
    if alert.link:
        parts.append(h.link(alert.link, texts("Details")))
    source = texts(
        "from {sender} ({source})", **{k: alert.data.get(k) for k in ("sender", "source")}
    )
    footer = h.italic(source)
    if alert.repeats:
        footer += " · " + texts(
            "×{count} since {at}",
            count=alert.repeats + 1,
            at=texts.when(alert.created_at, now=view.now),
        )
    parts.append(footer)
    if alert.state != "firing":
        parts.append(outcome_line(alert, texts, view.now))
        return "\n\n".join(parts), []
    return "\n\n".join(parts), [silence_row(texts, alert.id)]


def _dead_letters(alert: Alert, view: View) -> tuple[str, list[list[Button]]]:
    texts = view.texts
    count = int(alert.data.get("count") or 0)
    parts = [
        "📮 "
        + h.bold(
            texts.plural(
                "{count} message is in dead letters", "{count} messages are in dead letters", count
            )
        )
    ]
    parts.append(h.esc(texts(alert.text)))  # the notifier's own words: in the catalogue
    rows: list[list[Button]] = [[_panel(view, "/dead-letters")]]
    if alert.state != "firing":
        parts.append(outcome_line(alert, texts, view.now))
        return "\n\n".join(parts), rows
    return "\n\n".join(parts), rows + [silence_row(texts, alert.id)]


SINGLE = {
    "draft.pending": _draft,
    "conversation.handoff": _handoff,
    "conversation.reply": _reply,
    "alert": _custom,
    "dead_letters": _dead_letters,
    "worker.crashed": worker_crashed,
    "lead.new": new_lead,
    "lead.ask": ask,
}
