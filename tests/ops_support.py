"""Helpers the operations tests share."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from conftest import Desk


def require_sqlite(desk: Desk) -> None:
    """Skip unless DESK runs on SQLite: the test breaks its store the SQLite way
    (file modes, a path that is not a database, SQLite's write lock)."""
    if not str(desk.settings["store"]["url"]).startswith("sqlite"):
        pytest.skip("breaks the store the SQLite way (file modes, write lock)")


@contextmanager
def unwritable(*paths: Path) -> Iterator[None]:
    """PATHS (files or folders) read-only for the desk, even when it runs as root.

    Root ignores file modes, so as root the paths are made immutable
    (`chattr +i`, which binds root too); as anyone else `chmod a-w` does.
    Where neither is possible the test is skipped, and fails under CI=true:
    CI must run it.
    """
    with ExitStack() as undo:
        for path in paths:
            undo.enter_context(_immutable(path) if os.geteuid() == 0 else _read_only(path))
        yield


@contextmanager
def _read_only(path: Path) -> Iterator[None]:
    mode = path.stat().st_mode
    path.chmod(mode & ~0o222)
    try:
        yield
    finally:
        path.chmod(mode)


@contextmanager
def _immutable(path: Path) -> Iterator[None]:
    chattr = shutil.which("chattr")
    made = chattr and subprocess.run([chattr, "+i", str(path)], capture_output=True)
    if not made or made.returncode != 0:
        why = made.stderr.decode().strip() if made else "no chattr (e2fsprogs) on PATH"
        message = f"root ignores file modes, and {path} cannot be made immutable: {why}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)
