"""a learned phone number is a hint: callback tickets name their probable callers

A voicemail from a number that only a mail signature taught the desk was
filed as that contact's: anyone who wrote Kim's number into his signature
got her voicemails' acknowledgements and agents' answers. Such a call now
opens a callback ticket of its own, and `caller_hints` names the contacts
the caller probably is until an agent confirms one (docs/voicemail.md).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "caller_hints",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("contact_id", BigId, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "contact_id", name="uq_caller_hints_ticket_contact"),
    )
    op.create_index("ix_caller_hints_ticket_id", "caller_hints", ["ticket_id"])
    op.create_index("ix_caller_hints_number", "caller_hints", ["number"])


def downgrade() -> None:
    op.drop_index("ix_caller_hints_number", table_name="caller_hints")
    op.drop_index("ix_caller_hints_ticket_id", table_name="caller_hints")
    op.drop_table("caller_hints")
