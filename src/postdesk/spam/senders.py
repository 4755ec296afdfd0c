"""Blocked senders: addresses and whole domains whose mail is filed as spam, silently.

A pattern is a mailbox (``bob@example.com``, which also covers ``Bob+x@``:
the plus-tag and case are folded as for the limits on automatic mail) or a
domain (``@example.com``, which also covers its subdomains).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from postdesk.core.mail import domain_of, mailbox_of
from postdesk.store.models import BlockedSender
from postdesk.store.portable import insert_ignoring_conflict


class PatternError(ValueError):
    """Not an address nor an @domain, in words for the user."""


def normal_pattern(text: str) -> str:
    """TEXT as stored: a folded mailbox or '@' and a lower-cased domain; PatternError when it is neither."""
    value = text.strip().strip("<>").lower()
    local, at, domain = value.rpartition("@")
    if not at or not domain or "." not in domain.strip(".") or any(c.isspace() for c in value):
        raise PatternError(f"{text!r}: expected an address (bob@example.com) or a domain (@example.com)")
    return f"@{domain.strip('.')}" if not local else mailbox_of(value)


def block(session: Session, pattern: str, now: datetime) -> bool:
    """Block PATTERN (already normal); False when it was blocked before."""
    before = session.get(BlockedSender, pattern)
    if before is not None:
        return False
    insert_ignoring_conflict(session, BlockedSender, {"pattern": pattern, "created_at": now})
    return True


def unblock(session: Session, pattern: str) -> bool:
    """Unblock PATTERN (already normal); False when it was not blocked."""
    if session.get(BlockedSender, pattern) is None:
        return False
    session.execute(delete(BlockedSender).where(BlockedSender.pattern == pattern))
    return True


def blocked_senders(session: Session) -> list[dict[str, Any]]:
    """Every block, as the `senders list --json` contract: pattern, kind (address | domain), created_at."""
    rows = session.execute(select(BlockedSender).order_by(BlockedSender.pattern)).scalars()
    return [
        {
            "pattern": row.pattern,
            "kind": "domain" if row.pattern.startswith("@") else "address",
            "created_at": row.created_at.isoformat(),
        }
        for row in rows
    ]


def blocked_by(session: Session, addresses: Iterable[str]) -> str | None:
    """The block that covers one of ADDRESSES (the From, the envelope sender), or None."""
    wanted = set()
    for address in addresses:
        if "@" not in address:
            continue
        wanted.add(mailbox_of(address))
        labels = domain_of(address).split(".")
        wanted.update(f"@{'.'.join(labels[n:])}" for n in range(len(labels) - 1))
    if not wanted:
        return None
    query = select(BlockedSender.pattern).where(BlockedSender.pattern.in_(sorted(wanted)))
    # An address block is named before a domain block ("@" sorts before letters).
    return session.execute(query.order_by(BlockedSender.pattern.desc()).limit(1)).scalar()
