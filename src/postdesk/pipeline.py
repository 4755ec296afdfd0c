"""The pipeline: the ordered stages every received message runs through.

    parse → classify                                          (before the transaction)
    → voicemail → skip repeated delivery → thread → triage
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
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, defer

from postdesk.config.model import Settings
from postdesk.features import collect_feature_request
from postdesk.ingest import stages as ingest
from postdesk.replies.acknowledge import acknowledge
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
            row = _claim(session, peeked.id if peeked else None)
            if row is None:
                # Another worker took the peeked message meanwhile: look again.
                return None if peeked is None else self.process_next()
            now = datetime.now(UTC)
            env = StageEnv(session, self.settings, now, self.secret, self.templates)
            try:
                with session.begin_nested():
                    work = prepared or prepare(Work(inbound=_inbound_message(row)), self.settings)
                    work = run_stages(work, env)
            except Exception as error:
                _mark_failed(row, error, now)
                log.error("inbound %d failed: %s: %s", row.id, type(error).__name__, error)
                return Work(inbound=_inbound_message(row), finished=f"failed: {error}")
            row.status = "done"
            row.processed_at = now
            row.error = None
            row.result = work.finished or "; ".join(work.notes)
        log.info(
            "inbound %d: %s",
            work.inbound.id,
            row.result,
            extra={"inbound_id": work.inbound.id, "ticket_id": work.ticket_id, "kind": work.kind},
        )
        return work

    def _peek(self) -> InboundMessage | None:
        with self.store.read() as session:
            row = session.execute(
                select(Inbound).where(Inbound.status == "pending").order_by(Inbound.id).limit(1)
            ).scalar_one_or_none()
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


def _claim(session: Session, inbound_id: int | None) -> Inbound | None:
    """Lock the pending row INBOUND_ID (or the oldest pending one) for this transaction."""
    query = select(Inbound).where(Inbound.status == "pending")
    if inbound_id is not None:
        # Peeked and prepared already: no need to read the raw bytes again.
        query = query.where(Inbound.id == inbound_id).options(defer(Inbound.raw))
    return session.execute(
        query.order_by(Inbound.id).limit(1).with_for_update(skip_locked=True)
    ).scalar_one_or_none()


def retry_failed(store: Store) -> int:
    """Put every failed message back in the queue; returns how many."""
    with store.transaction() as session:
        result = session.execute(update(Inbound).where(Inbound.status == "failed").values(status="pending"))
        return result.rowcount or 0


def _inbound_message(row: Inbound) -> InboundMessage:
    return InboundMessage(
        id=row.id,
        received_at=row.received_at,
        via=row.via,
        envelope_from=row.envelope_from,
        recipients=tuple(row.recipients),
        raw=row.raw,
    )


def _mark_failed(row: Inbound, error: Exception, now: datetime) -> None:
    row.status = "failed"
    row.attempts += 1
    row.processed_at = now
    summary = traceback.format_exception_only(error)[-1].strip()
    where = traceback.extract_tb(error.__traceback__)[-1:]
    location = f" at {where[0].filename}:{where[0].lineno}" if where else ""
    row.error = f"{summary}{location}"[:4000]
