"""A lead as the operator reads it in Telegram: who wrote what where, why it was picked, and the
second stage's verdict (score and reason); "✅ Lead" / "🚫 Not a lead" teach the campaign's model.

A new lead ("lead.new") is news: alone in its message it is drawn with its buttons, with others
it is a line of the leads' group message (``rendering_groups``). A lead the model was unsure of
in a campaign that asks its operators ("lead.ask") is a question of its own: nobody writes to the
person until someone answers "Lead".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.db.notifier_models import Alert
from notifier import telegram_html as h
from notifier.buttons import LEAD, NOT_LEAD, AlertPress, Button
from notifier.texts import N_, Texts

if TYPE_CHECKING:
    from notifier.rendering import View

LEAD_TEXT = 600  # characters of a lead's message shown in an alert
REASON_TEXT = 200
MARKED = {
    "marked_lead": N_("✅ Marked a lead by {by} at {at}"),
    "marked_not_lead": N_("🚫 Marked not a lead by {by} at {at}"),
}


def lead_block(alert: Alert, texts: Texts) -> str:
    """Who wrote what where, and the keywords that picked it."""
    data = alert.data
    said = h.shorten(str(data.get("lead_text") or ""), LEAD_TEXT)
    where = texts("{person} in {chat} wrote:", person=data.get("person"), chat=data.get("chat"))
    lines = [h.bold(where), h.quote(said)]
    if data.get("keywords"):
        lines.append(texts("Picked for: {words}", words=h.italic(", ".join(data["keywords"]))))
    return "\n".join(lines)


def score_of(data: dict[str, Any]) -> str:
    """``0.82``, or empty when the campaign's second stage was off."""
    score = data.get("score")
    return f"{float(score):.2f}" if isinstance(score, int | float) else ""


def verdict_line(data: dict[str, Any], texts: Texts) -> str:
    score = score_of(data)
    if not score:
        return ""
    reason = h.shorten(str(data.get("reason") or ""), REASON_TEXT)
    if not reason:
        return texts("Intent: {score}", score=score)
    return texts("Intent: {score} · {reason}", score=score, reason=h.esc(reason))


def mark_buttons(alert: Alert, texts: Texts, number: str = "") -> list[Button]:
    """The two answers; in a group message each pair is numbered after its line."""
    if number:
        return [
            (f"✅ {number}", AlertPress(act=LEAD, alert=alert.id)),
            (f"🚫 {number}", AlertPress(act=NOT_LEAD, alert=alert.id)),
        ]
    return [
        (texts("✅ Lead"), AlertPress(act=LEAD, alert=alert.id)),
        (texts("🚫 Not a lead"), AlertPress(act=NOT_LEAD, alert=alert.id)),
    ]


def teachable(alert: Alert) -> bool:
    """Marks teach the second stage: a lead from a campaign with the stage off has no verdict to
    correct, and a settled alert was answered already."""
    return alert.state == "firing" and bool(alert.data.get("intent"))


def marked_line(alert: Alert, texts: Texts, now: Any = None) -> str:
    template = MARKED.get(alert.outcome or "", N_("☑️ Handled by {by} at {at}"))
    at = texts.when(alert.handled_at or alert.resolved_at, now=now)
    return h.bold(texts(template, by=alert.handled_by or texts("automation"), at=at))


def _panel(view: View, alert: Alert) -> Button:
    path = f"/leads/{int(alert.data.get('lead_id') or 0)}"
    return (view.texts("Open in panel"), view.panel_url.rstrip("/") + path)


def new_lead(alert: Alert, view: View) -> tuple[str, list[list[Button]]]:
    texts, data = view.texts, alert.data
    parts = ["🎯 " + h.bold(texts("New lead")) + " · " + h.esc(data.get("campaign"))]
    parts.append(lead_block(alert, texts))
    if line := verdict_line(data, texts):
        parts.append(line)
    rows: list[list[Button]] = []
    if teachable(alert):
        rows.append(mark_buttons(alert, texts))
    elif alert.state != "firing":
        parts.append(marked_line(alert, texts, view.now))
    rows.append([_panel(view, alert)])
    return "\n\n".join(parts), rows


def ask(alert: Alert, view: View) -> tuple[str, list[list[Button]]]:
    texts, data = view.texts, alert.data
    parts = ["❓ " + h.bold(texts("Is this a lead?")) + " · " + h.esc(data.get("campaign"))]
    parts.append(lead_block(alert, texts))
    if line := verdict_line(data, texts):
        parts.append(line)
    rows: list[list[Button]] = []
    if alert.state == "firing":
        unsure = texts("The model is unsure. Nobody writes to them until you say it is a lead.")
        parts.append(h.italic(unsure))
        rows.append(mark_buttons(alert, texts))
    else:
        parts.append(marked_line(alert, texts, view.now))
    rows.append([_panel(view, alert)])
    return "\n\n".join(parts), rows
