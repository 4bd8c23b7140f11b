"""intent judge counts: the LLM judge's calls, verdicts, tokens and cost per campaign and UTC day

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intent_judge_daily_counts",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("leads", sa.Integer(), nullable=False),
        sa.Column("not_leads", sa.Integer(), nullable=False),
        sa.Column("fallbacks", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_intent_judge_daily_counts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "day", name=op.f("pk_intent_judge_daily_counts")),
    )
    op.create_index(
        op.f("ix_intent_judge_daily_counts_day"), "intent_judge_daily_counts", ["day"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_intent_judge_daily_counts_day"), table_name="intent_judge_daily_counts")
    op.drop_table("intent_judge_daily_counts")
