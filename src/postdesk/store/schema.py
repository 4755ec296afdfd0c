"""Is the database at this code's schema? Answered without loading Alembic.

Every command but `db upgrade` only needs to know that the schema is current,
and asking Alembic means importing it and every migration script: a fifth of
a second per start of `postdesk`. The head revision is written here instead,
and tests/test_migrations.py checks it against Alembic's own head.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from postdesk.store.session import Store

# The newest migration in store/migrations/versions; bump it with each new one.
SCHEMA_REVISION = "0017"


class SchemaOutOfDate(Exception):
    """The database is older (or newer) than this version of postdesk."""


def current_revisions(store: Store) -> set[str]:
    """The revisions in the database's alembic_version table; empty before the first migration."""
    with store.engine.connect() as connection:
        try:
            rows = connection.execute(text("SELECT version_num FROM alembic_version"))
        except (OperationalError, ProgrammingError):  # no such table: nothing migrated yet
            return set()
        return {row[0] for row in rows}


def require_current(store: Store) -> None:
    """Raise SchemaOutOfDate unless the database is at the code's schema."""
    current = current_revisions(store)
    if current == {SCHEMA_REVISION}:
        return
    if not current:
        raise SchemaOutOfDate("the database has no postdesk schema yet: run 'postdesk db upgrade'")
    raise SchemaOutOfDate(
        f"the database schema is at {', '.join(sorted(current))}, this postdesk needs "
        f"{SCHEMA_REVISION}: run 'postdesk db upgrade'"
    )
