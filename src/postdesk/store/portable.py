"""SQL that needs each dialect's own spelling, behind one function each."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def insert_ignoring_conflict(session: Session, model: type, values: dict[str, object]) -> None:
    """INSERT … ON CONFLICT DO NOTHING: a row another worker stored first is kept."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(model).values(**values).on_conflict_do_nothing())
