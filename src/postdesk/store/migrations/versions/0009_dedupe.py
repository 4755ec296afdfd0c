"""dedupe: normalised entries, decisions, incident clusters, undo labels

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dedupe_entries",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("message_row_id", BigId, nullable=False),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("quoted", sa.Text(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(["message_row_id"], ["messages.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_row_id"),
    )
    op.create_index("ix_dedupe_entries_sender_created", "dedupe_entries", ["sender", "created_at"])
    op.create_index("ix_dedupe_entries_created", "dedupe_entries", ["created_at"])
    op.create_index("ix_dedupe_entries_ticket_id", "dedupe_entries", ["ticket_id"])
    op.create_table(
        "dedupe_decisions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("message_row_id", BigId, nullable=False),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("target_ticket_id", BigId, nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(["message_row_id"], ["messages.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.ForeignKeyConstraint(["target_ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_row_id"),
    )
    op.create_index("ix_dedupe_decisions_ticket_id", "dedupe_decisions", ["ticket_id"])
    op.create_table(
        "dedupe_clusters",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "dedupe_cluster_members",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("cluster_id", BigId, nullable=False),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("added_at", When, nullable=False),
        sa.ForeignKeyConstraint(["cluster_id"], ["dedupe_clusters.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id"),
    )
    op.create_index("ix_dedupe_cluster_members_cluster_id", "dedupe_cluster_members", ["cluster_id"])
    op.create_table(
        "dedupe_labels",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message_row_id", BigId, nullable=True),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("other_ticket_id", BigId, nullable=True),
        sa.Column("cluster_id", BigId, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(["message_row_id"], ["messages.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.ForeignKeyConstraint(["other_ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dedupe_labels_ticket_id", "dedupe_labels", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_dedupe_labels_ticket_id", table_name="dedupe_labels")
    op.drop_table("dedupe_labels")
    op.drop_index("ix_dedupe_cluster_members_cluster_id", table_name="dedupe_cluster_members")
    op.drop_table("dedupe_cluster_members")
    op.drop_table("dedupe_clusters")
    op.drop_index("ix_dedupe_decisions_ticket_id", table_name="dedupe_decisions")
    op.drop_table("dedupe_decisions")
    op.drop_index("ix_dedupe_entries_ticket_id", table_name="dedupe_entries")
    op.drop_index("ix_dedupe_entries_created", table_name="dedupe_entries")
    op.drop_index("ix_dedupe_entries_sender_created", table_name="dedupe_entries")
    op.drop_table("dedupe_entries")
