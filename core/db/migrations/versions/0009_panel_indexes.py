"""panel indexes: the leads and inbox lists, newest first, on a big installation

Each list is read newest first, 50 rows at a time; without an index in that order PostgreSQL
sorts every lead (or every conversation joined to its lead) to show the first page. With them the
first page is read in order and stops after 50 rows: the leads list (also filtered by campaign),
the inbox of every conversation, and the inbox by status (its default view, "needs approval", and
the counts in its tabs), and an account's messages by when they were sent (the new DMs it sent
today, counted beside a conversation's reply box). Measured by ``python -m bench.panel``.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.create_index("ix_leads_first_seen_at_id", ["first_seen_at", "id"], unique=False)
    with op.batch_alter_table("conversations") as batch:
        batch.create_index("ix_conversations_updated_at_id", ["updated_at", "id"], unique=False)
        batch.create_index(
            "ix_conversations_status_updated_at", ["status", "updated_at", "id"], unique=False
        )
    with op.batch_alter_table("conversation_messages") as batch:
        batch.create_index(
            "ix_conversation_messages_account_sent_at", ["account_id", "sent_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("conversation_messages") as batch:
        batch.drop_index("ix_conversation_messages_account_sent_at")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index("ix_conversations_status_updated_at")
        batch.drop_index("ix_conversations_updated_at_id")
    with op.batch_alter_table("leads") as batch:
        batch.drop_index("ix_leads_first_seen_at_id")
