"""Prometheus metrics of the outreach funnel (leads → first DMs → replies → opt-outs) and of each
account's new-DM cap, for the dashboards. Leads are the parser's
``coolthing_parser_leads_total{kind="new"}``.

Bumped beside ``manager.daily_counts`` (the same events the panel's daily counts add up), in the
transaction that records them: a transaction that is rolled back and retried may count twice,
which a rate on a dashboard tolerates; the panel's numbers come from the database. ``campaign``
and ``account`` are ids, bounded by what an operator runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from prometheus_client import Counter, Gauge

from manager.pacing import AccountCaps, QuietHours, day_start, new_dm_allowance

FIRST_DMS = Counter(
    "coolthing_outreach_first_dms", "First DMs Telegram confirmed sent.", ["campaign"]
)
REPLIES = Counter(
    "coolthing_outreach_replies", "Conversations whose lead answered (once each).", ["campaign"]
)
OPT_OUTS = Counter("coolthing_outreach_opt_outs", "Conversations that opted out.", ["campaign"])
DAILY_CAP = Gauge(
    "coolthing_outreach_daily_cap",
    "New DMs the account may send today (its cap, after the warm-up ramp).",
    ["account"],
)
PLANNED_TODAY = Gauge(
    "coolthing_outreach_first_dms_planned_today",
    "New DMs planned or sent by the account on the day of its latest one (against the cap).",
    ["account"],
)


def first_dms_recorded(
    dms: Mapping[tuple[int, date, str], int], replied: Mapping[tuple[int, date, str], int]
) -> None:
    """First DMs marked sent, and the answers that came before their reports, per
    (campaign, day, template version) as ``daily_counts`` adds them up."""
    for (campaign_id, _, _), count in dms.items():
        FIRST_DMS.labels(str(campaign_id)).inc(count)
    for (campaign_id, _, _), count in replied.items():
        replies(campaign_id, count)


def replies(campaign_id: int, count: int = 1) -> None:
    if count:
        REPLIES.labels(str(campaign_id)).inc(count)


def opt_outs(per_campaign: Mapping[int, int]) -> None:
    for campaign_id, count in per_campaign.items():
        OPT_OUTS.labels(str(campaign_id)).inc(count)


def first_dm_planned(
    account_id: int,
    *,
    caps: AccountCaps,
    created_at: datetime,
    at: datetime,
    by_day: Mapping[datetime, int],
    quiet: QuietHours | None,
) -> None:
    """A first DM was given its send time ``at``: the account's cap that day and its use
    (days are counted as the planner counts them: local days of the quiet hours' zone, or UTC)."""
    zone = quiet.zone if quiet is not None else ZoneInfo("UTC")
    DAILY_CAP.labels(str(account_id)).set(new_dm_allowance(caps, created_at, at))
    PLANNED_TODAY.labels(str(account_id)).set(by_day.get(day_start(at, zone), 0))
