"""The manager's outreach per campaign, UTC day and prompt version (``campaign_daily_counts``),
added to in the transaction of each event so the dashboard reads a few rows a day instead of
every message: the manager is the one writer of conversations and messages, as the parser is of
``chat_daily_counts``. One upsert per event (per batch, where events come in batches).

What counts, as migration 0011 filled it from the rows before:

- a first DM, on the UTC day it was sent, under its template version ('' when none);
- a reply: the conversation's first answer adds one to its first DM's row (the reply rate of the
  DMs sent that day, whenever the answer comes); an answer that arrives before the report that
  its first DM went out is counted with that report;
- an opt-out: each conversation that becomes ``opted_out``, on that day (version '');
- the LLM's tokens and cost of each message written, on the day it was written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.db.models import CampaignDailyCount, ConversationMessage
from core.db.upsert import upsert_adding
from manager import funnel_metrics
from manager.scheduling import FIRST

KEY = ("campaign_id", "day", "template_version")
COUNTS = ("first_dms", "replies", "opt_outs", "prompt_tokens", "completion_tokens", "cost")


def utc_day(moment: datetime) -> date:
    """The UTC day of a moment; a naive one (SQLite gives those back) is UTC already."""
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()


def _row(campaign_id: int, day: date, version: str | None, **counts: float) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(COUNTS, 0)
    row.update(campaign_id=campaign_id, day=day, template_version=version or "", **counts)
    return row


async def _add(session: AsyncSession, rows: list[dict[str, object]]) -> None:
    # rows in key order: two transactions adding to the same rows lock them in one order
    rows.sort(key=lambda row: (row["campaign_id"], str(row["day"]), row["template_version"]))
    await upsert_adding(session, CampaignDailyCount, rows, key=KEY, add=COUNTS)


async def first_dms_sent(
    session: AsyncSession, sent: Iterable[tuple[int, int, datetime, str | None]]
) -> None:
    """First DMs marked sent: (conversation id, campaign id, sent at, template version) each.
    One whose conversation already has an answer (it came before this report) counts as replied
    too, so every answer is counted once, on its first DM's row."""
    sent = list(sent)
    if not sent:
        return
    answered = set(
        await session.scalars(
            select(ConversationMessage.conversation_id).where(
                ConversationMessage.conversation_id.in_({c for c, *_ in sent}),
                ConversationMessage.direction == "in",
            )
        )
    )
    dms: Counter[tuple[int, date, str]] = Counter()
    replied: Counter[tuple[int, date, str]] = Counter()
    for conversation_id, campaign_id, at, version in sent:
        key = (campaign_id, utc_day(at), version or "")
        dms[key] += 1
        replied[key] += int(conversation_id in answered)
    await _add(session, [_row(*key, first_dms=n, replies=replied[key]) for key, n in dms.items()])
    funnel_metrics.first_dms_recorded(dms, replied)


async def reply_received(
    session: AsyncSession, campaign_id: int, conversation_id: int, message_id: int
) -> None:
    """An answer was stored (``message_id``): the conversation's first one adds a reply to its
    first DM's row; later answers, or one to a first DM not reported sent yet, add nothing."""
    earlier = aliased(ConversationMessage)
    answered_before = exists().where(
        earlier.conversation_id == conversation_id,
        earlier.direction == "in",
        earlier.id != message_id,
    )
    first = (
        await session.execute(
            select(ConversationMessage.sent_at, ConversationMessage.template_version)
            .where(
                ConversationMessage.conversation_id == conversation_id,
                ConversationMessage.kind == FIRST,
                ConversationMessage.status == "sent",
                ConversationMessage.sent_at.is_not(None),
                ~answered_before,
            )
            .limit(1)
        )
    ).first()
    if first is not None and first.sent_at is not None:
        day = utc_day(first.sent_at)
        await _add(session, [_row(campaign_id, day, first.template_version, replies=1)])
        funnel_metrics.replies(campaign_id)


async def opted_out(session: AsyncSession, campaign_ids: Iterable[int], *, now: datetime) -> None:
    """Conversations that became ``opted_out`` now: the campaign of each (one entry each)."""
    per_campaign = Counter(campaign_ids)
    day = utc_day(now)
    await _add(session, [_row(c, day, "", opt_outs=n) for c, n in sorted(per_campaign.items())])
    funnel_metrics.opt_outs(per_campaign)


async def message_written(
    session: AsyncSession, campaign_id: int, message: ConversationMessage, *, now: datetime
) -> None:
    """A written message stored: the tokens and cost it took (nothing when it took none)."""
    tokens = (message.prompt_tokens or 0, message.completion_tokens or 0, message.cost or 0.0)
    if not any(tokens):
        return
    prompt, completion, cost = tokens
    row = _row(
        campaign_id,
        utc_day(now),
        message.template_version,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost=cost,
    )
    await _add(session, [row])
