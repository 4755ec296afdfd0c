"""SQL that needs each dialect's own spelling, behind one function each."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from postdesk.store.models import Base


def insert_ignoring_conflict(session: Session, model: type[Base], values: dict[str, object]) -> None:
    """INSERT … ON CONFLICT DO NOTHING: a row another worker stored first is kept.

    A plain statement past the ORM (see `postdesk.store.rows`); what is
    pending in the session is flushed first, so the row may refer to it."""
    session.flush()
    connection = session.connection()
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    connection.execute(insert(model.__table__).values(**values).on_conflict_do_nothing())
