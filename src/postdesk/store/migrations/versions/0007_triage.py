"""triage: VIP contacts, triage events, feature requests, the queue/priority index

Revision ID: 0007
Revises: 0002
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("contacts", sa.Column("vip", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index(
        "ix_tickets_queue_priority_created", "tickets", ["queue", "priority", "created_at"], unique=False
    )
    op.create_table(
        "triage_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=320), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_triage_events_ticket", "triage_events", ["ticket_id", "id"], unique=False)
    op.create_table(
        "feature_requests",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "feature_asks",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("feature_request_id", BigId, nullable=False),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status_then", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["feature_request_id"], ["feature_requests.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id"),
    )
    op.create_index(
        "ix_feature_asks_feature_request_id", "feature_asks", ["feature_request_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_feature_asks_feature_request_id", table_name="feature_asks")
    op.drop_table("feature_asks")
    op.drop_table("feature_requests")
    op.drop_index("ix_triage_events_ticket", table_name="triage_events")
    op.drop_table("triage_events")
    op.drop_index("ix_tickets_queue_priority_created", table_name="tickets")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("vip")
