"""agent mail: tickets merged by an agent's #merge

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ticket_merges",
        sa.Column("source_id", BigId, nullable=False),
        sa.Column("target_id", BigId, nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merged_by", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["tickets.id"]),
        sa.ForeignKeyConstraint(["target_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("source_id"),
    )
    op.create_index("ix_ticket_merges_target_id", "ticket_merges", ["target_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ticket_merges_target_id", table_name="ticket_merges")
    op.drop_table("ticket_merges")
