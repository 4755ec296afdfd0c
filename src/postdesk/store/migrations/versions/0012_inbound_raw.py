"""inbound raw bytes in a table of their own

SQLite rewrites a whole row on every UPDATE, overflow pages included, so
marking a spooled message done rewrote its raw bytes each time. The bytes
move to `inbound_raw`; `inbound` keeps the envelope and the state.

`raw` is dropped with ALTER TABLE … DROP COLUMN (SQLite 3.35 and newer), not
by Alembic's batch rebuild: rebuilding `inbound` would drop the table that
`messages.inbound_id` refers to, which SQLite refuses with foreign keys on.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inbound_raw",
        sa.Column("inbound_id", BigId, autoincrement=False, nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("inbound_id"),
    )
    op.execute("INSERT INTO inbound_raw (inbound_id, raw) SELECT id, raw FROM inbound")
    op.execute("ALTER TABLE inbound DROP COLUMN raw")


def downgrade() -> None:
    # Nullable on the way back: SQLite adds a NOT NULL column only with a default.
    op.add_column("inbound", sa.Column("raw", sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE inbound SET raw = (SELECT raw FROM inbound_raw WHERE inbound_raw.inbound_id = inbound.id)"
    )
    op.drop_table("inbound_raw")
