"""Schema migrations (Alembic), driven from code rather than an alembic.ini."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from postdesk.store.schema import SchemaOutOfDate, current_revisions, require_current
from postdesk.store.session import Store

SCRIPT_LOCATION = "postdesk.store:migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(_config()).get_heads())


# PostgreSQL advisory lock key ("pdmigrat"): one migration at a time per database.
MIGRATION_LOCK = 0x7064_6D69_6772_6174


def upgrade(store: Store, revision: str = "heads") -> None:
    """Migrate to REVISION. Several hosts starting `postdesk serve` at once on
    PostgreSQL take turns (an advisory lock held to the end of the migration's
    transaction); the later ones then find the schema current and do nothing."""
    config = _config()
    with store.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


__all__ = ["SchemaOutOfDate", "current_revisions", "head_revisions", "require_current", "upgrade"]
