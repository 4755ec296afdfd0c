"""ticket fields shared by triage, agents and voicemail

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 14:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN (no batch mode): on SQLite a batch rebuild
    # of "tickets" would drop AUTOINCREMENT and with it the 10001 start.
    op.add_column(
        "tickets", sa.Column("priority", sa.String(length=8), nullable=False, server_default="normal")
    )
    op.add_column(
        "tickets", sa.Column("queue", sa.String(length=64), nullable=False, server_default="support")
    )
    op.add_column("tickets", sa.Column("level", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("tickets", sa.Column("assignee", sa.String(length=320), nullable=True))
    op.add_column("tickets", sa.Column("first_response_due", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tickets", sa.Column("callback", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_tickets_status_priority", "tickets", ["status", "priority"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table(
        "tickets", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_index("ix_tickets_status_priority")
        for column in ("callback", "first_response_due", "assignee", "level", "queue", "priority"):
            batch_op.drop_column(column)
