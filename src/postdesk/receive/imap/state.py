"""How far each IMAP mailbox has been read: UIDVALIDITY and the last UID.

The state row is written in the same transaction as the mail it covers
(`spool_messages(also=…)`), so it can never claim more than is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from postdesk.store.models import ImapMailboxState
from postdesk.store.session import Store


@dataclass(frozen=True, slots=True)
class MailboxState:
    name: str
    source: str
    uidvalidity: int
    last_uid: int
    imported: int
    refused: int
    updated_at: datetime

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "source": self.source,
            "uidvalidity": self.uidvalidity,
            "last_uid": self.last_uid,
            "imported": self.imported,
            "refused": self.refused,
            "updated_at": self.updated_at.isoformat(),
        }


def _value(row: ImapMailboxState) -> MailboxState:
    return MailboxState(
        name=row.name,
        source=row.source,
        uidvalidity=row.uidvalidity,
        last_uid=row.last_uid,
        imported=row.imported,
        refused=row.refused,
        updated_at=row.updated_at,
    )


def load_state(store: Store, name: str) -> MailboxState | None:
    with store.read() as session:
        row = session.get(ImapMailboxState, name)
        return _value(row) if row is not None else None


def all_states(store: Store) -> list[MailboxState]:
    with store.read() as session:
        rows = session.execute(select(ImapMailboxState).order_by(ImapMailboxState.name)).scalars()
        return [_value(row) for row in rows]


@dataclass(frozen=True, slots=True)
class Advance:
    """A change to one mailbox's state: where it now stands and what was added."""

    name: str
    source: str
    uidvalidity: int
    last_uid: int
    imported: int = 0
    refused: int = 0
    # A new source or UIDVALIDITY: the counts start again.
    fresh: bool = False


def apply(advance: Advance, now: datetime) -> Callable[[Session], None]:
    """A step for `spool_messages(also=…)`: write ADVANCE in that transaction."""

    def write(session: Session) -> None:
        row = session.get(ImapMailboxState, advance.name)
        if row is None:
            session.add(
                ImapMailboxState(
                    name=advance.name,
                    source=advance.source,
                    uidvalidity=advance.uidvalidity,
                    last_uid=advance.last_uid,
                    imported=advance.imported,
                    refused=advance.refused,
                    updated_at=now,
                )
            )
            return
        row.source = advance.source
        row.uidvalidity = advance.uidvalidity
        # Never backwards within one UIDVALIDITY: a late writer must not undo progress.
        row.last_uid = advance.last_uid if advance.fresh else max(row.last_uid, advance.last_uid)
        row.imported = advance.imported if advance.fresh else row.imported + advance.imported
        row.refused = advance.refused if advance.fresh else row.refused + advance.refused
        row.updated_at = now

    return write


def save(store: Store, advance: Advance, now: datetime) -> None:
    """Write ADVANCE alone (no mail with it: a reset, or refused mail only)."""
    with store.transaction() as session:
        apply(advance, now)(session)
