"""An operator's "✅ Lead" / "🚫 Not a lead" pressed on a lead's alert: the mark goes to the
parser (the only writer of verdicts; it keeps the mark as an example the campaign's model learns
from) as a ``LeadCommand`` with the pressing person as the actor, and the alert is settled so
every copy of its message says who marked it.

Who is pressing, and whether they may, is decided before (``AlertActions.press``), exactly as for
the other alert buttons.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from core.bus import Bus
from core.db import Database
from core.db.notifier_models import Alert, AlertDelivery, AlertRecipient
from core.lead_commands import LeadCommand, LeadMark, send_lead_command
from notifier import buttons
from notifier.event_alerts import Settle
from notifier.intake import settle
from notifier.people import Person
from notifier.texts import Texts

MARKS: dict[str, LeadMark] = {buttons.LEAD: "lead", buttons.NOT_LEAD: "not_lead"}
ABOUT_LEADS = ("lead.new", "lead.ask")


async def mark_lead(
    db: Database,
    bus: Bus,
    alert: Alert,
    person: Person,
    recipient: AlertRecipient | None,
    act: str,
    texts: Texts,
) -> tuple[str, bool]:
    """Send the mark; the answer for the person and whether it must be a pop-up."""
    lead_id = int(alert.data.get("lead_id") or 0)
    if alert.kind not in ABOUT_LEADS or lead_id < 1:
        return texts("This button is no longer valid."), True
    mark = MARKS[act]
    command = LeadCommand(lead_id=lead_id, mark=mark, actor=person.actor())
    result = await send_lead_command(bus, command)
    if result.outcome == "missing":
        return texts("This lead no longer exists."), True
    if result.outcome != "done":
        return texts("Not saved: the parser is not answering. Try again in a minute."), True
    now = datetime.now(UTC)
    outcome = f"marked_{mark}"
    async with db.transaction() as session:
        if recipient is not None:
            delivery = await session.scalar(
                select(AlertDelivery).where(
                    AlertDelivery.alert_id == alert.id, AlertDelivery.recipient_id == recipient.id
                )
            )
            if delivery is not None:
                delivery.action, delivery.acted_at = outcome, now
        done = Settle("handled", outcome, now, by=person.login, fingerprint=alert.fingerprint)
        await settle(session, done, now=now)
    if mark == "not_lead":
        return texts("Marked not a lead: the campaign learns from it."), False
    if result.written_to:
        return texts("Marked a lead: the manager will write to them."), False
    return texts("Marked a lead."), False
