"""campaign daily counts: the manager's outreach per campaign, UTC day and prompt version

The dashboard's funnel (first DMs, replies, opt-outs), reply rate per prompt version and the
LLM's tokens and cost were a pass over the range's messages; the manager now keeps them per day
in ``campaign_daily_counts``, in the transaction of each event (``manager.daily_counts``). The
table is filled here from the rows that exist, counting what the dashboard counted:

- first DMs: ``kind = 'first'`` messages sent by an account, on the UTC day of ``sent_at``, per
  campaign and template version ('' when none); ``replies``: those whose conversation has an
  answer from the person (on the first DM's day: the reply rate of the DMs sent that day);
- opt-outs: conversations ``opted_out``, on the day of their last change (version '');
- tokens and cost: every message that carries any, on the UTC day it was written.

Leads get an index on (campaign, first seen): one campaign's leads per day over a range (the
dashboard's funnel for a campaign) no longer visits every lead the campaign ever had.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BACKFILL = """
insert into campaign_daily_counts (
    campaign_id, day, template_version,
    first_dms, replies, opt_outs, prompt_tokens, completion_tokens, cost
)
select campaign_id, day, version, sum(first_dms), sum(replies), sum(opt_outs),
    sum(prompt_tokens), sum(completion_tokens), sum(cost)
from (
    select c.campaign_id as campaign_id, {sent} as day,
        coalesce(m.template_version, '') as version, 1 as first_dms,
        case when exists (
            select 1 from conversation_messages a
            where a.conversation_id = m.conversation_id and a.direction = 'in'
        ) then 1 else 0 end as replies,
        0 as opt_outs, 0 as prompt_tokens, 0 as completion_tokens, 0.0 as cost
    from conversation_messages m join conversations c on c.id = m.conversation_id
    where m.kind = 'first' and m.status = 'sent'
        and m.account_id is not null and m.sent_at is not null
    union all
    select c.campaign_id, {updated}, '', 0, 0, 1, 0, 0, 0.0
    from conversations c
    where c.status = 'opted_out'
    union all
    select c.campaign_id, {written}, coalesce(m.template_version, ''), 0, 0, 0,
        m.prompt_tokens, m.completion_tokens, m.cost
    from conversation_messages m join conversations c on c.id = m.conversation_id
    where m.prompt_tokens > 0 or m.completion_tokens > 0 or m.cost > 0
) as events
group by campaign_id, day, version
"""


def _day(column: str) -> str:
    """The UTC day of a timestamp column, as the dashboard reads it on each database."""
    if op.get_bind().dialect.name == "postgresql":
        return f"cast(({column} at time zone 'UTC') as date)"
    return f"date({column})"


def upgrade() -> None:
    op.create_table(
        "campaign_daily_counts",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("template_version", sa.String(length=16), nullable=False),
        sa.Column("first_dms", sa.Integer(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.Column("opt_outs", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_daily_counts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "campaign_id", "day", "template_version", name=op.f("pk_campaign_daily_counts")
        ),
    )
    with op.batch_alter_table("campaign_daily_counts") as batch:
        batch.create_index(batch.f("ix_campaign_daily_counts_day"), ["day"], unique=False)
    with op.batch_alter_table("leads") as batch:  # one campaign's leads in a range of days
        batch.create_index(
            "ix_leads_campaign_first_seen_at_id",
            ["campaign_id", "first_seen_at", "id"],
            unique=False,
        )
    statement = BACKFILL.format(
        sent=_day("m.sent_at"), updated=_day("c.updated_at"), written=_day("m.created_at")
    )
    op.execute(sa.text(statement))


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.drop_index("ix_leads_campaign_first_seen_at_id")
    op.drop_table("campaign_daily_counts")
