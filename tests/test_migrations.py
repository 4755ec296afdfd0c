"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text

from conftest import make_mail
from postdesk.config import load_settings
from postdesk.runtime.desk import open_desk
from postdesk.store.inbound import read_inbound
from postdesk.store.migrate import (
    SCRIPT_LOCATION,
    current_revisions,
    head_revisions,
    require_current,
    upgrade,
)
from postdesk.store.models import Base, Message
from postdesk.store.schema import SCHEMA_REVISION
from postdesk.store.session import Store, open_store


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


def test_the_quick_schema_check_knows_the_newest_migration() -> None:
    """Commands check the schema without Alembic (store/schema.py): its revision must be Alembic's head."""
    assert head_revisions() == {SCHEMA_REVISION}


def test_spooled_bytes_move_to_their_own_table_and_back(tmp_path: Path, databases) -> None:
    """0012 moves each spooled message's bytes out of `inbound` (whose rows messages refer to) and
    a downgrade puts them back; a message spooled before the upgrade is processed after it."""
    url = databases.url(tmp_path, "m")
    store = open_store(url)
    upgrade(store, "0011")
    raw = make_mail(subject="Vor dem Update").as_bytes()
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO inbound"
                " (received_at, via, envelope_from, recipients, raw, size, status, attempts)"
                " VALUES (:at, 'smtp', 'kim@customer.example', '[\"support@example.com\"]',"
                " :raw, :size, 'pending', 0)"
            ),
            {"at": datetime(2026, 11, 23, 9, 0), "raw": raw, "size": len(raw)},
        )
    upgrade(store)
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT inbound_id, raw FROM inbound_raw")).all() == [(1, raw)]
    settings = load_settings(None, {"POSTDESK_STORE__URL": url})
    desk = open_desk(settings)
    assert desk.processor().process_pending() == 1
    with store.read() as session:
        assert read_inbound(session, 1) is not None
        assert session.scalar(select(Message.subject)) == "Vor dem Update"
    desk.store.dispose()

    _downgrade(store, "0011")
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT raw FROM inbound")).scalar_one() == raw
    store.dispose()


def test_outbox_limit_columns_come_and_go(tmp_path: Path, databases) -> None:
    """0014 adds the outbox's recipient mailbox, domain and `held_by` (deliver/limits.py); mail
    queued before it keeps its row, counts only towards the global limit, and a downgrade drops them."""
    store = open_store(databases.url(tmp_path, "m"))
    upgrade(store, "0013")
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO outbox (kind, message_id, envelope_from, recipients, raw, status, attempts,"
                " next_attempt_at, created_at) VALUES ('acknowledgement', 'm@x', 'support@example.com',"
                " '[\"kim@customer.example\"]', :raw, 'pending', 0, :at, :at)"
            ),
            {"raw": b"mail", "at": datetime(2026, 12, 7, 8, 0)},
        )
    upgrade(store)
    with store.engine.connect() as connection:
        row = connection.execute(text("SELECT status, to_mailbox, to_domain, held_by FROM outbox")).one()
    assert tuple(row) == ("pending", None, None, None)
    _downgrade(store, "0013")
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT status FROM outbox")).scalar_one() == "pending"
        columns = connection.execute(text("SELECT * FROM outbox")).keys()
    assert "held_by" not in columns and "to_mailbox" not in columns
    store.dispose()


def _downgrade(store: Store, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
