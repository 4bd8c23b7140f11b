"""account health and chat activity: what Telegram did to each account, and what each chat says

Accounts keep how long a PeerFlood limits them (``peer_flood_until``, beside ``flood_until``),
the phone they logged in with and their own ceiling on new DMs a day. ``account_events`` records
each FloodWait, PeerFlood, ban, revoked session and unreachable proxy, for the account pages and
the dashboard's week-over-history flags. ``chat_daily_counts`` holds messages read and matched
per chat per UTC day (the dashboard's "messages scanned"); ``chat_samples`` a bounded sample of
each chat's recent messages for a keyword set's "try it".

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("peer_flood_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("daily_cap", sa.Integer(), nullable=True))
    op.create_table(
        "account_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_events_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_events")),
    )
    with op.batch_alter_table("account_events") as batch:
        batch.create_index("ix_account_events_account_at", ["account_id", "at"], unique=False)
        batch.create_index(batch.f("ix_account_events_at"), ["at"], unique=False)
    op.create_table(
        "chat_daily_counts",
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("telegram_chat_id", "day", name=op.f("pk_chat_daily_counts")),
    )
    with op.batch_alter_table("chat_daily_counts") as batch:
        batch.create_index(batch.f("ix_chat_daily_counts_day"), ["day"], unique=False)
    op.create_table(
        "chat_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_samples")),
    )
    with op.batch_alter_table("chat_samples") as batch:
        batch.create_index("ix_chat_samples_chat_id", ["telegram_chat_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("chat_samples")
    op.drop_table("chat_daily_counts")
    op.drop_table("account_events")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("daily_cap")
        batch.drop_column("phone")
        batch.drop_column("peer_flood_until")
