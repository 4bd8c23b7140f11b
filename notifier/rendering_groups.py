"""Messages that carry a group of alerts: new leads, account trouble, operations.

One line per alert, newest last, the oldest dropped when there are many ("and 40 more"); the
header counts them all ("12 new leads · web-leads 8, design 4").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from core.db.notifier_models import Alert
from notifier import telegram_html as h
from notifier.alert_kinds import kind
from notifier.buttons import Button
from notifier.rendering_leads import MARKED, mark_buttons, score_of, teachable
from notifier.texts import N_, Texts

SHOWN = 10  # lines per group message; the rest are counted
LINE_TEXT = 140

STATES = {
    "account.banned": N_("{account} is banned: {reason}"),
    "account.revoked": N_("{account} needs a new login: {reason}"),
    "account.limited": N_("{account} is PeerFlood-limited until {until}: no new first messages"),
    "account.flood_wait": N_("{account} waits out a FloodWait until {until}"),
    "worker.crashed": N_("the worker of {account} crashed (exit {exit_code})"),
    "run.finished": N_("run {run_id} of {scene} in {chat}: {outcome}"),
    "run.failed": N_("run {run_id} of {scene} in {chat} failed: {reason}"),
}
MARKS = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
HEADERS = {
    "accounts": N_("Accounts"),
    "operations": N_("Operations"),
    "alerts": N_("Alerts"),
}


@dataclass(frozen=True)
class GroupSummary:
    """A big group's totals, counted by the database: rendering reads only the last lines."""

    total: int
    per_campaign: list[tuple[str, int]]  # campaign name, alerts; most first


def summarise(alerts: list[Alert]) -> GroupSummary:
    per_campaign = Counter(str(alert.data.get("campaign")) for alert in alerts)
    return GroupSummary(len(alerts), per_campaign.most_common())


def render_group(
    alerts: list[Alert],
    texts: Texts,
    now: datetime | None,
    summary: GroupSummary | None = None,
) -> tuple[str, list[list[Button]]]:
    """``alerts``: the newest ones (at least the last ``SHOWN``); ``summary``: all of them."""
    summary = summary or summarise(alerts)
    family = kind(alerts[0].kind).family
    if family == "leads":
        return _leads(alerts, texts, now, summary)
    header = "⚠️ " + h.bold(texts(HEADERS.get(family, N_("Alerts"))))
    lines = [_line(alert, texts, now) for alert in alerts[-SHOWN:]]
    return "\n".join([header, *_more(summary.total, texts), *lines]), []


def _more(total: int, texts: Texts) -> list[str]:
    hidden = total - SHOWN
    if hidden <= 0:
        return []
    return [h.italic(texts.plural("…and {count} earlier", "…and {count} earlier", hidden))]


def _line(alert: Alert, texts: Texts, now: datetime | None) -> str:
    data = {k: v for k, v in alert.data.items() if isinstance(v, str | int | float)}
    if "until" in data:
        until = datetime.fromisoformat(str(data["until"]))
        data["until"] = texts.when(until, now=now)
    template = STATES.get(alert.kind)
    try:
        said = texts(template, **data) if template else alert.title
    except (KeyError, IndexError):
        said = alert.title
    at = texts.when(alert.created_at, now=now)
    if alert.state == "firing":
        repeats = f" ×{alert.repeats + 1}" if alert.repeats else ""
        return f"{MARKS.get(alert.severity, '🟠')} {h.esc(said)}{repeats} · {at}"
    over = texts("over at {at}", at=texts.when(alert.resolved_at or alert.handled_at, now=now))
    return f"✅ <s>{h.esc(said)}</s> · {h.esc(over)}"


def _leads(
    alerts: list[Alert], texts: Texts, now: datetime | None, summary: GroupSummary
) -> tuple[str, list[list[Button]]]:
    """One line per lead with its score; a numbered pair of "✅ n" / "🚫 n" buttons per lead
    whose verdict an operator may still correct."""
    per_campaign, count = summary.per_campaign, summary.total
    if len(per_campaign) == 1:
        ((campaign, _),) = per_campaign
        title = texts.plural(
            "{count} new lead in {campaign}",
            "{count} new leads in {campaign}",
            count,
            campaign=campaign,
        )
        header = "🎯 " + h.bold(title)
    else:
        title = texts.plural("{count} new lead", "{count} new leads", count)
        spread = ", ".join(f"{name} {n}" for name, n in per_campaign)
        header = "🎯 " + h.bold(title) + " · " + h.esc(spread)
    lines = [header, *_more(count, texts)]
    pairs: list[list[Button]] = []
    shown = alerts[-SHOWN:]
    numbered = any(alert.data.get("intent") for alert in shown)
    for number, alert in enumerate(shown, 1):
        data = alert.data
        said = h.shorten(str(data.get("lead_text") or ""), LINE_TEXT)
        who = h.esc(data.get("person"))
        where = h.esc(data.get("chat"))
        link = str(data.get("lead_link") or "")
        quote = h.link(link, said) if link.startswith(("http://", "https://")) else h.esc(said)
        mark = f"{number}. " if numbered else "• "
        score = f" · {score_of(data)}" if score_of(data) else ""
        line = f"{mark}{h.bold(who)} · {where}{score}: {quote}"
        if alert.outcome in MARKED:
            by = texts(
                MARKED[alert.outcome], by=alert.handled_by, at=texts.when(alert.handled_at, now=now)
            )
            line += "\n   " + h.italic(by)
        lines.append(line)
        if teachable(alert):
            pairs.append(mark_buttons(alert, texts, str(number)))
    rows = [
        [*pairs[i], *pairs[i + 1]] if i + 1 < len(pairs) else pairs[i]
        for i in range(0, len(pairs), 2)
    ]
    return "\n".join(lines), rows
