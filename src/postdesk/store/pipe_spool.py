"""The pipe hook's spool write: one message, through the database driver alone.

A mail server starts `postdesk mailgate` once per mail, so what the process
imports is paid per mail. SQLAlchemy and the ORM models take a quarter of a
second to import, for two INSERTs; here they are written with the driver's
own DB-API (`sqlite3` from the standard library, `psycopg`), with the same
connection settings `store.session` gives the engine (WAL, busy timeout,
synchronous FULL, BEGIN IMMEDIATE; PostgreSQL's lock and statement
timeouts). The rows are the ones `receive.spool.spool_messages` writes
through the ORM; tests/test_startup.py reads both back and compares them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from postdesk.store.timeouts import (
    POSTGRESQL_LOCK_TIMEOUT_MS,
    POSTGRESQL_STATEMENT_TIMEOUT_MS,
    SQLITE_BUSY_TIMEOUT_MS,
)


class PipeSpoolUnsupported(Exception):
    """A store URL this writer does not speak; the caller takes the ORM path."""


class PipeSpoolFailed(Exception):
    """The message was not stored (the database said no, or is not there)."""


def spool_one(
    url: str,
    raw: bytes,
    *,
    via: str,
    envelope_from: str | None,
    recipients: Sequence[str],
    now: datetime | None = None,
) -> int:
    """Commit RAW and its envelope to the spool at URL; return the inbound id.

    Raises PipeSpoolUnsupported for a URL other than SQLite or PostgreSQL via
    psycopg, and PipeSpoolFailed when nothing was stored."""
    received_at = (now or datetime.now(UTC)).astimezone(UTC)
    scheme, _, rest = url.partition("://")
    backend, _, driver = scheme.partition("+")
    row = {
        "via": via,
        "envelope_from": envelope_from,
        "recipients": json.dumps(list(recipients)),
        "size": len(raw),
    }
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return _sqlite(_sqlite_path(rest), row, raw, received_at)
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        return _postgresql(f"postgresql://{rest}", row, raw, received_at)
    raise PipeSpoolUnsupported(scheme)


def _sqlite_path(rest: str) -> str:
    """The file of "sqlite:///relative.db" or "sqlite:////absolute.db", as SQLAlchemy reads it."""
    location = rest.split("?", 1)[0]
    if not location.startswith("/") or location == "/":
        return ":memory:"
    return unquote(location[1:])


def _sqlite(path: str, row: dict[str, Any], raw: bytes, received_at: datetime) -> int:
    import sqlite3

    if path != ":memory:" and not Path(path).parent.is_dir():
        raise PipeSpoolFailed(
            f"the folder {Path(path).parent} of the SQLite store {path} does not exist:"
            " create it, or correct [store] url"
        )
    try:
        connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except sqlite3.Error as error:
        raise PipeSpoolFailed(f"{type(error).__name__}: {error}") from error
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        connection.execute("BEGIN IMMEDIATE")
        try:
            # The ORM's own storage format for a UTC DateTime on SQLite (models.UTCDateTime).
            stamp = received_at.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
            cursor = connection.execute(
                "INSERT INTO inbound (received_at, via, envelope_from, recipients, size, status, attempts)"
                " VALUES (?, ?, ?, ?, ?, 'pending', 0)",
                (stamp, row["via"], row["envelope_from"], row["recipients"], row["size"]),
            )
            inbound_id = cursor.lastrowid
            if inbound_id is None:
                raise sqlite3.OperationalError("no id for the new inbound row")
            connection.execute("INSERT INTO inbound_raw (inbound_id, raw) VALUES (?, ?)", (inbound_id, raw))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return inbound_id
    except sqlite3.Error as error:
        raise PipeSpoolFailed(f"{type(error).__name__}: {error}") from error
    finally:
        connection.close()


def _postgresql(uri: str, row: dict[str, Any], raw: bytes, received_at: datetime) -> int:
    import psycopg

    options = None
    if "options" not in parse_qs(uri.partition("?")[2]):
        options = (
            f"-c lock_timeout={POSTGRESQL_LOCK_TIMEOUT_MS} "
            f"-c statement_timeout={POSTGRESQL_STATEMENT_TIMEOUT_MS}"
        )
    try:
        connection = psycopg.connect(uri, options=options) if options else psycopg.connect(uri)
        with connection:  # commits when the block ends
            fetched = connection.execute(
                "INSERT INTO inbound (received_at, via, envelope_from, recipients, size, status, attempts)"
                " VALUES (%s, %s, %s, %s::json, %s, 'pending', 0) RETURNING id",
                (received_at, row["via"], row["envelope_from"], row["recipients"], row["size"]),
            ).fetchone()
            if fetched is None:
                raise psycopg.DataError("no id for the new inbound row")
            inbound_id = int(fetched[0])
            connection.execute("INSERT INTO inbound_raw (inbound_id, raw) VALUES (%s, %s)", (inbound_id, raw))
        return inbound_id
    except psycopg.Error as error:
        raise PipeSpoolFailed(f"{type(error).__name__}: {error}") from error
