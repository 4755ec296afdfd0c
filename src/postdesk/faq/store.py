"""The FAQ index in the database: `faq index` writes the entries, each worker reads them once.

A table rather than a file beside the database: it works the same on SQLite
and PostgreSQL, every host sharing the database sees one FAQ, and a rebuild
replaces it in one transaction, so no worker ever reads half an index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from postdesk.faq.entries import Entry
from postdesk.store.models import FaqEntry


@dataclass(frozen=True, slots=True)
class IndexChange:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int


def save_entries(session: Session, entries: tuple[Entry, ...], now: datetime) -> IndexChange:
    """Make the table hold exactly ENTRIES; says which ids were added, changed and removed."""
    stored = {row.id: row for row in session.execute(select(FaqEntry)).scalars()}
    wanted = {entry.id: entry for entry in entries}
    removed = tuple(sorted(set(stored) - set(wanted)))
    if removed:
        session.execute(delete(FaqEntry).where(FaqEntry.id.in_(removed)))
    added, changed = [], []
    for entry in entries:
        row = stored.get(entry.id)
        if row is not None and row.sha256 == entry.sha256:
            continue
        if row is None:
            row = FaqEntry(id=entry.id)
            session.add(row)
            added.append(entry.id)
        else:
            changed.append(entry.id)
        row.language, row.title, row.url = entry.language, entry.title, entry.url
        row.tags, row.body, row.sha256, row.indexed_at = list(entry.tags), entry.body, entry.sha256, now
    unchanged = len(entries) - len(added) - len(changed)
    return IndexChange(tuple(added), tuple(changed), removed, unchanged)


def load_entries(session: Session) -> tuple[Entry, ...]:
    rows = session.execute(select(FaqEntry).order_by(FaqEntry.id)).scalars()
    return tuple(
        Entry(
            id=row.id,
            language=row.language,
            title=row.title,
            body=row.body,
            tags=tuple(row.tags),
            url=row.url,
            sha256=row.sha256,
        )
        for row in rows
    )
