"""Writing rows past the ORM's unit of work, where a stage only appends.

A flushed ORM object costs about a millisecond of bookkeeping (state
tracking, dependency sorting, the identity map); a plain INSERT a tenth of
that. The pipeline appends several rows per mail that no later stage of the
same transaction changes (messages, attachments, outbox rows, dedupe
records), so those go in as plain statements. What is still pending in the
session is flushed first, so a row may refer to an object added just before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, Update, bindparam, insert, update
from sqlalchemy.orm import Session

from postdesk.store.models import Base


def insert_row(session: Session, model: type[Base], values: Mapping[str, Any]) -> int:
    """INSERT one row of MODEL; returns its primary key."""
    session.flush()
    result = session.connection().execute(insert(model.__table__), dict(values))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def insert_rows(session: Session, model: type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT several rows of MODEL in one statement (executemany)."""
    if rows:
        session.flush()
        session.connection().execute(insert(model.__table__), [dict(row) for row in rows])


def update_row(session: Session, model: type[Base], row_id: int, values: Mapping[str, Any]) -> None:
    """UPDATE MODEL's row ROW_ID (by its `id` column); objects already loaded are not refreshed."""
    statement = _update_by_id(model.__table__, tuple(values))
    session.connection().execute(statement, {"row_id": row_id, **{f"new_{k}": v for k, v in values.items()}})


@lru_cache(maxsize=64)
def _update_by_id(table: Table, columns: tuple[str, ...]) -> Update:
    # One statement per table and set of columns, with bound parameters: SQLAlchemy
    # then finds its compiled form without building and walking a new statement.
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({c: bindparam(f"new_{c}") for c in columns})
    )
