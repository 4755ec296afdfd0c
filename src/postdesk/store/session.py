"""Engines and sessions: the unit of work every component is handed.

SQLite runs in WAL mode (readers never wait for the writer) and every
transaction starts with BEGIN IMMEDIATE: a transaction that would later need
the write lock takes it up front, so two writers queue on busy_timeout instead
of failing with "database is locked" halfway through.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from postdesk.store.timeouts import (
    POSTGRESQL_LOCK_TIMEOUT_MS,
    POSTGRESQL_STATEMENT_TIMEOUT_MS,
    SQLITE_BUSY_TIMEOUT_MS,
)


@dataclass(frozen=True)
class Store:
    """A database: its engine and the session factory bound to it."""

    engine: Engine
    sessions: sessionmaker[Session]
    readers: sessionmaker[Session]

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits when the block ends, rolls back on error."""
        with self.sessions.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work. On SQLite it takes no write lock (plain
        BEGIN in WAL mode), so it never waits for, nor delays, a writer."""
        with self.readers() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def hold_instances(session: Session) -> None:
    """Keep every object SESSION loads or inserts alive until the session ends.

    The ORM's identity map holds objects weakly: a ticket one stage inserted
    and dropped is gone when the next stage asks `session.get` for it, which
    then costs a SELECT. A pipeline transaction is small and short, so it
    holds its objects; long listings and bulk commands do not use this.
    """
    held: list[object] = session.info.setdefault("held_instances", [])

    def hold(_session: Session, instance: object) -> None:
        held.append(instance)

    event.listen(session, "loaded_as_persistent", hold)
    event.listen(session, "pending_to_persistent", hold)


class StoreFolderMissing(Exception):
    """The SQLite store's folder does not exist (a wrong [store] url, or a folder not made yet)."""


def open_store(url: str, *, synchronous: str = "FULL") -> Store:
    """An engine for URL. `synchronous` applies to SQLite only: FULL makes a
    commit survive power loss, NORMAL only a process crash (it is faster)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url, synchronous)
    else:
        engine = create_engine(
            url, pool_pre_ping=True, pool_size=8, max_overflow=8, connect_args=_postgresql_limits(parsed)
        )
    reader = engine.execution_options(sqlite_begin="DEFERRED")
    return Store(
        engine=engine,
        sessions=sessionmaker(engine, expire_on_commit=False),
        readers=sessionmaker(reader, expire_on_commit=False),
    )


def _postgresql_limits(url: URL) -> dict[str, str]:
    """Timeouts so that no statement waits forever on a lock or a stuck server:
    a blocked step fails and is retried, instead of hanging its process.
    Options given in the store URL (`?options=...`) are left as they are."""
    if "options" in url.query:
        return {}
    return {
        "options": f"-c lock_timeout={POSTGRESQL_LOCK_TIMEOUT_MS} "
        f"-c statement_timeout={POSTGRESQL_STATEMENT_TIMEOUT_MS}"
    }


def _sqlite_engine(url: str, synchronous: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:" and not Path(database).parent.is_dir():
        # Not made here: a typo in the URL would otherwise grow a tree of
        # folders and a second, empty desk beside the real one.
        raise StoreFolderMissing(
            f"the folder {Path(database).parent} of the SQLite store {database} does not exist:"
            " create it, or correct [store] url"
        )
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" event below issue BEGIN instead of pysqlite.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:  # type: ignore[no-untyped-def]
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine
