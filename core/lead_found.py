"""``lead.found`` for a lead already recorded: announced again, not found anew.

The parser sends it when an operator marks a "maybe" a lead; the manager replays it for leads
it parked while a campaign had no account. Either way it carries the lead's stored message and
verdict (``intent`` overrides the verdict: an operator's mark not yet flushed to the row).
"""

from __future__ import annotations

from typing import cast

from core.db.models import Lead
from core.events import LeadFound
from core.intent import IntentVerdict

REASON_MAX = 500  # LeadFound.reason's limit


def found_again(lead: Lead, *, intent: IntentVerdict | None = None) -> LeadFound:
    verdict = intent if intent is not None else cast("IntentVerdict | None", lead.intent)
    return LeadFound(
        lead_id=lead.id,
        campaign_id=lead.campaign_id,
        telegram_user_id=lead.telegram_user_id,
        chat_id=lead.chat_id,
        message_id=lead.message_id,
        text=lead.text,
        link=lead.link,
        keywords=list(lead.keywords or []),
        is_new=False,
        intent=verdict,  # pydantic checks it again
        score=lead.intent_score,
        reason=lead.intent_reason[:REASON_MAX] if lead.intent_reason else None,
    )
