"""Keeping data no longer than configured (GDPR Art. 5(1)(e)): `[retention]`, run daily by `serve`
and by `postdesk retention run`. Every setting is 0 (keep for ever) until an operator opts in."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from postdesk.config.model import RetentionSettings
from postdesk.ops.metrics import Metrics
from postdesk.privacy.rows import delete_spooled, delete_tickets, record_audit
from postdesk.store.models import Inbound, InboundRaw, Message, Meta, Ticket

log = logging.getLogger(__name__)

# What `retention run --json` counts, every key always there.
RETENTION_COUNTS = ("tickets", "messages", "attachments", "blobs", "outbound", "raw_mails", "spooled")

# When the daily job last ran (ISO time), so that a restarted `serve` does not run it again at once.
LAST_RUN_KEY = "retention.last_run"
EVERY = timedelta(days=1)


def run_retention(
    session: Session, settings: RetentionSettings, *, now: datetime, ran_by: str, dry_run: bool
) -> dict[str, int]:
    """Delete what SETTINGS keep no longer; the counts by kind. DRY_RUN counts and rolls back."""
    counts: Counter[str] = Counter()
    savepoint = session.begin_nested()
    if settings.closed_tickets_days:
        cutoff = now - timedelta(days=settings.closed_tickets_days)
        closed = select(Ticket.id).where(Ticket.status == "closed", Ticket.closed_at < cutoff)
        delete_tickets(session, list(session.execute(closed).scalars()), counts)
    if settings.spool_days:
        cutoff = now - timedelta(days=settings.spool_days)
        # Pending mail is never dropped: it is mail the desk has not read yet.
        unused = select(Inbound.id).where(
            Inbound.status != "pending",
            Inbound.received_at < cutoff,
            ~exists().where(Message.inbound_id == Inbound.id),
        )
        delete_spooled(session, list(session.execute(unused).scalars()), counts)
    if settings.raw_mail_days:
        cutoff = now - timedelta(days=settings.raw_mail_days)
        old = select(Inbound.id).where(Inbound.status == "done", Inbound.received_at < cutoff)
        result = session.execute(delete(InboundRaw).where(InboundRaw.inbound_id.in_(old)))
        counts["raw_mails"] += int(result.rowcount or 0)  # type: ignore[attr-defined]
    session.flush()
    found = {key: counts[key] for key in RETENTION_COUNTS}
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
        if any(found.values()):
            record_audit(session, "retention", ran_by, now, found)
    return found


def retention_due(session: Session, now: datetime) -> bool:
    """Has a day passed since the daily job last ran (or has it never run)?"""
    row = session.get(Meta, LAST_RUN_KEY)
    return row is None or datetime.fromisoformat(row.value) + EVERY <= now


def daily_retention(session: Session, settings: RetentionSettings, now: datetime, metrics: Metrics) -> None:
    """`serve`'s daily step: run retention when due, log and report the counts."""
    if not settings.enabled or not retention_due(session, now):
        return
    counts = run_retention(session, settings, now=now, ran_by="serve", dry_run=False)
    row = session.get(Meta, LAST_RUN_KEY)
    if row is None:
        session.add(Meta(key=LAST_RUN_KEY, value=now.isoformat()))
    else:
        row.value = now.isoformat()
    for kind, count in counts.items():
        if count:
            metrics.retention_deleted(kind, count)
    log.info("retention: deleted %s", ", ".join(f"{n} {kind}" for kind, n in counts.items()))
