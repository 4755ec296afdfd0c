"""voicemail recordings and contacts' phone numbers

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-23 15:13:42
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "contact_phones",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("contact_id", Id, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("learned", sa.Boolean(), nullable=False),
        sa.Column("conflict", sa.Boolean(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contact_id", "number", name="uq_contact_phones_contact_number"),
    )
    op.create_index("ix_contact_phones_number", "contact_phones", ["number"], unique=False)

    op.create_table(
        "voicemails",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("message_row_id", Id, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("caller", sa.Text(), nullable=False),
        sa.Column("caller_number", sa.String(length=32), nullable=True),
        sa.Column("caller_name", sa.String(length=320), nullable=False),
        sa.Column("contact_id", Id, nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("attachment_id", Id, nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("duration_from", sa.String(length=8), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("transcript_status", sa.String(length=16), nullable=False),
        sa.Column("transcript_error", sa.Text(), nullable=True),
        sa.Column("transcript_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("called_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["attachment_id"], ["attachments.id"]),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"]),
        sa.ForeignKeyConstraint(["message_row_id"], ["messages.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_row_id"),
    )
    op.create_index("ix_voicemails_caller_number", "voicemails", ["caller_number"], unique=False)
    op.create_index("ix_voicemails_transcript", "voicemails", ["transcript_status", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("voicemails")
    op.drop_table("contact_phones")
