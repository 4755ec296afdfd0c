"""The pipeline: the ordered stages every received message runs through.

    parse → classify                                          (before the transaction)
    → voicemail → skip repeated delivery → thread → triage → abuse reports
    → store → voicemail-file → learn-phones → feature requests → respond

`PREPARE` stages read only the message and the settings; they run before
the message's transaction opens, so the database's write lock (SQLite has
one for the whole file) is held only while the `STAGES` need it. Each
stage is a function ``(Work, StageEnv) -> Work`` (see `postdesk.stage`).
A message is processed in one database transaction: the stages' writes,
the queued replies and the spool row's "done" commit together, or not at
all. A stage that raises leaves the message marked ``failed`` with its
error, to be retried with ``postdesk process --retry-failed``.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from postdesk.config.model import Settings
from postdesk.faq.index import FaqIndex
from postdesk.features import collect_feature_request
from postdesk.ingest import stages as ingest
from postdesk.machine_mail import file_abuse_report
from postdesk.replies.acknowledge import acknowledge
from postdesk.response_times import TypicalWaits
from postdesk.stage import InboundMessage, PureStage, Stage, StageEnv, Work
from postdesk.store.models import Inbound
from postdesk.store.record import record
from postdesk.store.session import Store
from postdesk.templates.render import MailTemplates
from postdesk.threading.stage import thread
from postdesk.triage import triage
from postdesk.voicemail import stages as voicemail

log = logging.getLogger(__name__)

PREPARE: Sequence[tuple[str, PureStage]] = (
    ("parse", ingest.parse),
    ("classify", ingest.classify),
)

STAGES: Sequence[tuple[str, Stage]] = (
    ("voicemail", voicemail.recognise_voicemail),
    ("skip-repeated-delivery", ingest.skip_repeated_delivery),
    ("thread", thread),
    ("triage", triage),
    ("abuse-reports", file_abuse_report),
    ("store", record),
    ("voicemail-file", voicemail.file_voicemail),
    ("learn-phones", voicemail.learn_phones),
    ("feature-requests", collect_feature_request),
    ("respond", acknowledge),
)


def prepare(work: Work, settings: Settings) -> Work:
    for _name, stage in PREPARE:
        work = stage(work, settings)
    return work


def run_stages(work: Work, env: StageEnv, stages: Sequence[tuple[str, Stage]] = STAGES) -> Work:
    for _name, stage in stages:
        work = stage(work, env)
        if work.finished:
            break
    return work


@dataclass(frozen=True)
class Processor:
    """What a pipeline worker needs; built once per process."""

    store: Store
    settings: Settings
    secret: bytes
    templates: MailTemplates
    typical_waits: TypicalWaits = field(default_factory=TypicalWaits)
    # Built from the faq_entries table when the worker starts (Desk.processor).
    faq: FaqIndex | None = None

    def process_next(self) -> Work | None:
        """Claim one pending message and process it; None when there is none."""
        # SQLite locks the whole database for a writer: read and prepare the
        # message first, then take the lock for the stages that write. On
        # PostgreSQL the row lock (SKIP LOCKED) is the claim, so other workers
        # never prepare the same message; there it is prepared inside.
        peeked = self._peek() if self.store.is_sqlite else None
        if self.store.is_sqlite and peeked is None:
            return None
        prepared = self._try_prepare(peeked) if peeked else None
        with self.store.transaction() as session:
            inbound = _claim(session, peeked)
            if inbound is None:
                # Another worker took the peeked message meanwhile: look again.
                return None if peeked is None else self.process_next()
            now = datetime.now(UTC)
            env = StageEnv(
                session, self.settings, now, self.secret, self.templates, self.typical_waits, faq=self.faq
            )
            try:
                with session.begin_nested():
                    work = prepared or prepare(Work(inbound=inbound), self.settings)
                    work = run_stages(work, env)
            except Exception as error:
                _mark_failed(session, inbound.id, error, now)
                log.error("inbound %d failed: %s: %s", inbound.id, type(error).__name__, error)
                return Work(inbound=inbound, finished=f"failed: {error}")
            result = work.finished or "; ".join(work.notes)
            session.execute(
                update(Inbound)
                .where(Inbound.id == inbound.id)
                .values(status="done", processed_at=now, error=None, result=result)
            )
        log.info(
            "inbound %d: %s",
            inbound.id,
            result,
            extra={"inbound_id": inbound.id, "ticket_id": work.ticket_id, "kind": work.kind},
        )
        return work

    def _peek(self) -> InboundMessage | None:
        with self.store.read() as session:
            row = session.execute(
                select(*_INBOUND_COLUMNS).where(Inbound.status == "pending").order_by(Inbound.id).limit(1)
            ).first()
            return _inbound_message(row) if row is not None else None

    def _try_prepare(self, inbound: InboundMessage) -> Work | None:
        try:
            return prepare(Work(inbound=inbound), self.settings)
        except Exception:  # prepared again inside the transaction, where a failure is recorded
            return None

    def process_pending(self, limit: int | None = None) -> int:
        """Process until nothing is pending (or LIMIT messages); returns the count."""
        count = 0
        while limit is None or count < limit:
            if self.process_next() is None:
                break
            count += 1
        return count


_INBOUND_COLUMNS = (
    Inbound.id,
    Inbound.received_at,
    Inbound.via,
    Inbound.envelope_from,
    Inbound.recipients,
    Inbound.raw,
)


def _claim(session: Session, peeked: InboundMessage | None) -> InboundMessage | None:
    """Take a pending message for this transaction: PEEKED, or the oldest pending one."""
    if peeked is not None:
        # SQLite: the transaction already holds the write lock; the row is
        # ours if it is still pending (no other worker finished it meanwhile).
        taken = session.execute(
            update(Inbound)
            .where(Inbound.id == peeked.id, Inbound.status == "pending")
            .values(status="pending")
        )
        return peeked if taken.rowcount == 1 else None
    row = session.execute(
        select(*_INBOUND_COLUMNS)
        .where(Inbound.status == "pending")
        .order_by(Inbound.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    return _inbound_message(row) if row is not None else None


def retry_failed(store: Store) -> int:
    """Put every failed message back in the queue; returns how many."""
    with store.transaction() as session:
        result = session.execute(update(Inbound).where(Inbound.status == "failed").values(status="pending"))
        return result.rowcount or 0


def _inbound_message(row: Row[Any]) -> InboundMessage:
    return InboundMessage(
        id=row.id,
        received_at=row.received_at,
        via=row.via,
        envelope_from=row.envelope_from,
        recipients=tuple(row.recipients),
        raw=row.raw,
    )


def _mark_failed(session: Session, inbound_id: int, error: Exception, now: datetime) -> None:
    summary = traceback.format_exception_only(error)[-1].strip()
    where = traceback.extract_tb(error.__traceback__)[-1:]
    location = f" at {where[0].filename}:{where[0].lineno}" if where else ""
    session.execute(
        update(Inbound)
        .where(Inbound.id == inbound_id)
        .values(
            status="failed",
            attempts=Inbound.attempts + 1,
            processed_at=now,
            error=f"{summary}{location}"[:4000],
        )
    )
