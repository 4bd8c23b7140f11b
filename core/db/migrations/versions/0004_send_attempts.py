"""send attempts: a message handed back by a long FloodWait is sent again under a new key; an
index for the live conversations of an account (the least busy account is picked per lead)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation_messages") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("conversations") as batch:
        batch.create_index("ix_conversations_account_status", ["account_id", "status"])


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index("ix_conversations_account_status")
    with op.batch_alter_table("conversation_messages") as batch:
        batch.drop_column("attempts")
