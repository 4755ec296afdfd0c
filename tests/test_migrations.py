"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from postdesk.store.migrate import current_revisions, head_revisions, require_current, upgrade
from postdesk.store.models import Base
from postdesk.store.session import open_store


def test_migrated_schema_matches_the_models(tmp_path: Path, databases) -> None:
    store = open_store(databases.url(tmp_path, "m"))
    upgrade(store)
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    assert current_revisions(store) == head_revisions()
    require_current(store)
    store.dispose()


def test_one_line_of_history() -> None:
    """Feature branches each add a migration; merged, they must form one chain."""
    assert len(head_revisions()) == 1
