"""A crashed account worker as the operator reads it: which account, quarantined or not, the exit
code, whether it was killed for memory, and its last log lines, with a button to the panel's
System page where it is released or restarted.

The log is the worker's own output (untrusted: it can hold anything a chat message held), so it
is escaped, and cut from its start: the last lines are the ones that say why it died.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.db.notifier_models import Alert
from notifier import telegram_html as h
from notifier.buttons import Button, silence_row

if TYPE_CHECKING:
    from notifier.rendering import View

LOG_LINES = 12
LOG_TEXT = 1500  # characters of the log shown: the message stays well inside Telegram's 4,096
SYSTEM_PAGE = "/system"


def log_tail(text: str, *, lines: int = LOG_LINES, limit: int = LOG_TEXT) -> str:
    """The last ``lines`` lines, at most ``limit`` characters, never starting mid-line."""
    kept = "\n".join(text.rstrip().splitlines()[-lines:])
    if len(kept) <= limit:
        return kept
    cut = kept[-limit:]
    whole = cut.split("\n", 1)[1] if "\n" in cut else cut
    return h.ELLIPSIS + "\n" + whole


def worker_crashed(alert: Alert, view: View) -> tuple[str, list[list[Button]]]:
    texts, data = view.texts, alert.data
    account = data.get("account") or f"#{data.get('account_id')}"
    if data.get("quarantined"):
        title = texts(
            "The worker of {account} is quarantined after {restarts} crashes",
            account=account,
            restarts=data.get("restarts") or 0,
        )
    else:
        title = texts("The worker of {account} crashed", account=account)
    code = data.get("exit_code")
    exit_line = texts("exit {code}", code="?" if code is None else code)
    memory = (
        texts("killed for memory (OOM)") if data.get("oom_killed") else texts("not out of memory")
    )
    parts = ["🔴 " + h.bold(title), h.code(exit_line) + " · " + h.esc(memory)]
    if data.get("quarantined"):
        parts.append(h.italic(texts("It is not restarted until someone releases it.")))
    tail = log_tail(str(alert.text or ""))
    if tail:
        parts.append(h.bold(texts("Last log lines:")) + "\n<pre>" + h.esc(tail) + "</pre>")
    rows: list[list[Button]] = [
        [(texts("Open in panel"), view.panel_url.rstrip("/") + SYSTEM_PAGE)]
    ]
    if alert.state != "firing":
        at = texts.when(alert.handled_at or alert.resolved_at, now=view.now)
        if alert.outcome == "released":
            over = texts("✅ Released from quarantine by {by} at {at}", by=alert.handled_by, at=at)
        else:
            over = texts("✅ Resolved at {at}", at=at)
        parts.append(h.bold(over))
        return "\n\n".join(parts), rows
    return "\n\n".join(parts), rows + [silence_row(texts, alert.id)]
