"""every claim of a spooled message, counted where a crash cannot undo it

A mail that kills or hangs the worker process was claimed again, first,
after every restart: one poison mail stopped the desk. Each claim now adds
a row here, committed outside the transaction that processes the mail, so
a worker that dies still leaves its count. The worker fails a message
claimed 3 times without finishing, and takes a message claimed before on
its own, not in a batch with others.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # No foreign key: on PostgreSQL the claim is written on a second connection
    # while the worker's transaction holds the inbound row locked.
    op.create_table(
        "inbound_claims",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("inbound_id", BigId, nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_inbound_claims_inbound_id", "inbound_claims", ["inbound_id"])


def downgrade() -> None:
    op.drop_index("ix_inbound_claims_inbound_id", table_name="inbound_claims")
    op.drop_table("inbound_claims")
