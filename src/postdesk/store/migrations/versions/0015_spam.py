"""spam: why a ticket is spam, a forged From, and the blocked senders

Spam is filed on a ticket in status `spam` (docs/spam.md); the ticket keeps
the verdict's reason and whether the trusted server saw DMARC fail for its
From (then no automatic mail goes to that From, even after `not-spam`).
`blocked_senders` holds the addresses and @domains whose mail is spam.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE (no batch mode): on SQLite a batch rebuild of "tickets"
    # would drop AUTOINCREMENT and with it the 10001 start (see 0002).
    op.add_column("tickets", sa.Column("spam_reason", sa.Text(), nullable=True))
    op.add_column(
        "tickets", sa.Column("forged_from", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_table(
        "blocked_senders",
        sa.Column("pattern", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pattern"),
    )


def downgrade() -> None:
    op.drop_table("blocked_senders")
    # SQLite drops a column in place (3.35+), so no rebuild here either.
    op.drop_column("tickets", "forged_from")
    op.drop_column("tickets", "spam_reason")
