"""Which of the desk's files other local users can read: `serve` warns at start.

New files are private (the CLI's umask, postdesk.cli.kit.private_files);
this is for files an older version, or an operator, left open to everyone.
Only the "others" bits count: the group is how the mailgate's pipe user is
let into the spool (docs/deploy.md).
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)


def warn_if_exposed(store_url: str, config_path: Path | None) -> None:
    """Log a warning for each of the desk's files that others can read (once, at start)."""
    for warning in exposure_warnings(desk_files(store_url, config_path)):
        log.warning("%s", warning)


def desk_files(store_url: str, config_path: Path | None) -> list[Path]:
    """The config file and, for SQLite, the database with its -wal and -shm."""
    files = [config_path] if config_path else []
    url = make_url(store_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        database = Path(str(url.database))
        files += [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    return files


def exposure_warnings(paths: Iterable[Path]) -> list[str]:
    """One line per existing file that users outside its owner and group can read or write."""
    warnings = []
    for path in paths:
        try:
            mode = path.stat().st_mode
        except OSError:
            continue  # not there (yet): whatever creates it now makes it private
        if mode & (stat.S_IROTH | stat.S_IWOTH):
            warnings.append(
                f"{path} is readable by every local user (mode {stat.S_IMODE(mode):04o}): "
                f"it holds customers' mail or the desk's secrets; fix with `chmod o-rwx {path}`"
            )
    return warnings
