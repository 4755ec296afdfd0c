"""SQL that needs each dialect's own spelling, behind one function each."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Insert, Table
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
    connection.execute(_insert_ignoring(connection.dialect.name, model.__table__), values)


@lru_cache(maxsize=32)
def _insert_ignoring(dialect: str, table: Table) -> Insert:
    # Built once per table; the values go in as parameters, so the compiled form is reused.
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing()
