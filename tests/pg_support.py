"""The two store backends the suite runs against, and a fresh database per test.

SQLite is a file in the test's folder. PostgreSQL is the server at
POSTDESK_TEST_PG_URL (default: the local one); each test gets its own
database, created empty and dropped (with its connections) at teardown, so
tests stay independent exactly as with a fresh SQLite file.

POSTDESK_TEST_BACKENDS=sqlite (or postgresql) narrows a local run to one.
With CI=true an unreachable PostgreSQL fails its tests; elsewhere they are
skipped with the reason.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

PG_URL_ENV = "POSTDESK_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ALL_BACKENDS = ("sqlite", "postgresql")


def backends() -> tuple[str, ...]:
    wanted = os.environ.get("POSTDESK_TEST_BACKENDS", "")
    chosen = tuple(b for b in ALL_BACKENDS if b in wanted.split(",")) if wanted else ALL_BACKENDS
    return chosen or ALL_BACKENDS


def admin_url() -> URL:
    return make_url(os.environ.get(PG_URL_ENV, DEFAULT_PG_URL))


def _libpq(url: URL) -> dict[str, object]:
    """psycopg.connect() keywords for URL (the driver part of the name dropped)."""
    keywords: dict[str, object] = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        "dbname": url.database or "postgres",
        "connect_timeout": 5,
        "autocommit": True,
    }
    if url.password:
        keywords["password"] = url.password
    return keywords


@functools.cache
def unreachable_reason() -> str | None:
    """Why PostgreSQL cannot be used (None: it can). Asked once per test run."""
    import psycopg

    try:
        with psycopg.connect(**_libpq(admin_url())) as connection:  # type: ignore[arg-type]
            connection.execute("SELECT 1")
    except Exception as error:
        shown = admin_url().render_as_string(hide_password=True)
        return f"PostgreSQL at {shown} ({PG_URL_ENV}) unreachable: {type(error).__name__}: {error}"
    return None


def require_postgresql() -> None:
    """Skip (locally) or fail (CI=true) when PostgreSQL is unreachable."""
    reason = unreachable_reason()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def create_database() -> str:
    """A new empty database on the test server; returns its SQLAlchemy URL."""
    import psycopg

    name = f"postdesk_test_{secrets.token_hex(6)}"
    with psycopg.connect(**_libpq(admin_url())) as connection:  # type: ignore[arg-type]
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin_url().set(drivername="postgresql+psycopg", database=name).render_as_string(False)


def drop_database(url: str) -> None:
    """Drop URL's database, ending whatever connections a killed server left."""
    import psycopg

    name = make_url(url).database
    with psycopg.connect(**_libpq(admin_url())) as connection:  # type: ignore[arg-type]
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for the block; dropped afterwards."""
    require_postgresql()
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)


@dataclass
class Databases:
    """Hands out fresh store URLs on one backend; drops what it made at the end."""

    backend: str
    created: list[str] = field(default_factory=list)

    def url(self, folder: Path, name: str = "postdesk") -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{folder / (name + '.db')}"
        url = create_database()
        self.created.append(url)
        return url

    def drop_all(self) -> None:
        while self.created:
            drop_database(self.created.pop())
