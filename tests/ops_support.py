"""Helpers the operations tests share."""

from __future__ import annotations

import pytest

from conftest import Desk


def require_sqlite(desk: Desk) -> None:
    """Skip unless DESK runs on SQLite: the test breaks its store the SQLite way
    (file modes, a path that is not a database, SQLite's write lock)."""
    if not str(desk.settings["store"]["url"]).startswith("sqlite"):
        pytest.skip("breaks the store the SQLite way (file modes, write lock)")
