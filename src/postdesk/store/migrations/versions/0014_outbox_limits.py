"""limits on automatic mail: whom each outbox mail goes to, and which limit held it

Acknowledgements were limited only per sender address, counted over the
messages table: `bob+1@`, `bob+2@` each counted as new, and nothing held
a flood from many senders. The outbox now records the recipient's mailbox
(plus-tag and case folded) and domain, so the per-mailbox, per-domain and
global limits are indexed counts, and `held_by` names the limit that kept
a mail back (status `held`).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    # kind and status too: a count under a flood reads the index alone.
    ("ix_outbox_to_mailbox", ["to_mailbox", "created_at", "kind", "status"]),
    ("ix_outbox_to_domain", ["to_domain", "created_at", "kind", "status"]),
    ("ix_outbox_kind_created", ["kind", "created_at", "status"]),
    ("ix_outbox_held_by", ["held_by", "created_at"]),
)


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("to_mailbox", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("to_domain", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("held_by", sa.String(length=32), nullable=True))
    for name, columns in INDEXES:
        op.create_index(name, "outbox", columns)


def downgrade() -> None:
    for name, _ in INDEXES:
        op.drop_index(name, table_name="outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("held_by")
        batch_op.drop_column("to_domain")
        batch_op.drop_column("to_mailbox")
