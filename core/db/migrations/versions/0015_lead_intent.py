"""lead intent: campaigns' intent policy, leads' verdicts, operators' examples, retrained models

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("intent", JSON, nullable=False, server_default="{}"))
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("intent", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("intent_score", sa.Float(), nullable=True))
        batch.add_column(sa.Column("intent_reason", sa.Text(), nullable=True))
    op.create_table(
        "intent_examples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("label", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_intent_examples_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_intent_examples_lead_id_leads"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intent_examples")),
        sa.UniqueConstraint("campaign_id", "lead_id", name=op.f("uq_intent_examples_campaign_id")),
    )
    op.create_index(
        op.f("ix_intent_examples_campaign_id"), "intent_examples", ["campaign_id"], unique=False
    )
    op.create_table(
        "campaign_intent_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("held_out", sa.Integer(), nullable=False),
        sa.Column("f1", sa.Float(), nullable=False),
        sa.Column("previous_f1", sa.Float(), nullable=False),
        sa.Column("in_use", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_intent_models_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_intent_models")),
    )
    op.create_index(
        "ix_campaign_intent_models_campaign_id_id",
        "campaign_intent_models",
        ["campaign_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_campaign_intent_models_campaign_id_id", table_name="campaign_intent_models")
    op.drop_table("campaign_intent_models")
    op.drop_index(op.f("ix_intent_examples_campaign_id"), table_name="intent_examples")
    op.drop_table("intent_examples")
    # Plain DROP COLUMN (SQLite has it since 3.35): a batch copy would drop and recreate these
    # tables, and on SQLite that cascades to every row that refers to a campaign or a lead.
    for column in ("intent_reason", "intent_score", "intent"):
        op.drop_column("leads", column)
    op.drop_column("campaigns", "intent")
