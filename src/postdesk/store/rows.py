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

from sqlalchemy import Insert, Table, Update, bindparam, insert, inspect, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from postdesk.store.models import Base


def insert_row(session: Session, model: type[Base], values: Mapping[str, Any]) -> int:
    """INSERT one row of MODEL; returns its primary key."""
    session.flush()
    result = session.connection().execute(_insert(model.__table__), dict(values))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def insert_rows(session: Session, model: type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT several rows of MODEL in one statement (executemany)."""
    if rows:
        session.flush()
        session.connection().execute(_insert(model.__table__), [dict(row) for row in rows])


def update_row(session: Session, model: type[Base], row_id: int, values: Mapping[str, Any]) -> None:
    """UPDATE MODEL's row ROW_ID (by its `id` column); objects already loaded are not refreshed."""
    statement = _update_by_id(model.__table__, tuple(values))
    session.connection().execute(statement, {"row_id": row_id, **{f"new_{k}": v for k, v in values.items()}})


def update_loaded(session: Session, instance: Base, values: Mapping[str, Any]) -> None:
    """UPDATE the row of a loaded (persistent) object past the unit of work, and
    set the object's attributes to match without marking them changed.

    For what the pipeline sets on every follow-up (a ticket's `updated_at`):
    one dirty attribute makes the next flush run the whole unit of work."""
    identity = inspect(instance).identity
    assert identity is not None, "a loaded object has an identity"
    update_row(session, type(instance), identity[0], values)
    for name, value in values.items():
        set_committed_value(instance, name, value)


@lru_cache(maxsize=64)
def _insert(table: Table) -> Insert:
    # Built once per table, like the updates below.
    return insert(table)


@lru_cache(maxsize=64)
def _update_by_id(table: Table, columns: tuple[str, ...]) -> Update:
    # One statement per table and set of columns, with bound parameters: SQLAlchemy
    # then finds its compiled form without building and walking a new statement.
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({c: bindparam(f"new_{c}") for c in columns})
    )
