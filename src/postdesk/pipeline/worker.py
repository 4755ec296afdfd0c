"""The pipeline worker: claim spooled messages, run the stages over them in
batches of savepoints, and mark each done or failed.

A message is processed in one savepoint of its batch's database
transaction: the stages' writes, the queued replies and the spool row's
"done" commit together, or not at all. A stage that raises leaves the
message marked ``failed`` with its error, to be retried with
``postdesk process --retry-failed``.

Poison mail: every claim of a message is recorded (`inbound_claims`) and
committed *before* the message is processed, so a worker that the message
kills or hangs still leaves its count. A message claimed before is taken on
its own, not in a batch with others; one claimed `MAX_CLAIMS` times without
finishing is marked failed ("worker died 3 times on this mail") and the
desk goes on with the rest. A message that takes longer than
`[pipeline] message_timeout_seconds` fails the same way.
"""

from __future__ import annotations

import logging
import signal
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from postdesk.config.model import Settings
from postdesk.core.work import InboundMessage, Work
from postdesk.dedupe.index import CandidateIndex
from postdesk.faq.index import FaqIndex
from postdesk.ops.metrics import Metrics, NoMetrics
from postdesk.pipeline import prepare, run_stages
from postdesk.pipeline.env import Resources, StageEnv
from postdesk.store.inbound import SELECT_INBOUND, forget_claims, inbound_message
from postdesk.store.models import Inbound, InboundClaim
from postdesk.store.rows import update_row
from postdesk.store.session import Store, hold_instances
from postdesk.templates.render import MailTemplates
from postdesk.triage.response_times import TypicalWaits

# The name operators filter on (docs/operations.md), kept from before the worker had a module of its own.
log = logging.getLogger("postdesk.pipeline")

# Messages per transaction. One commit (one WAL flush) then covers this
# many; larger batches hold locks longer: PostgreSQL's row locks make a
# conflict between workers (the same contact, the same attachment) wait
# longer, SQLite's database lock makes the listener's spool writes wait
# (docs/benchmarks.md, "PostgreSQL scale-out" and "Pipeline").
CLAIM_BATCH = 16

# PostgreSQL errors that say "this transaction lost a race, not: this message
# is bad": deadlock detected, serialization failure, lock not available.
_TRANSIENT_SQLSTATES = frozenset({"40P01", "40001", "55P03"})


DEFERRED = "deferred: "

# A message claimed this often without finishing killed or hung its worker each time.
MAX_CLAIMS = 3


class PoisonMail(Exception):
    """The message stopped its worker MAX_CLAIMS times, or took longer than the time limit."""


class _Deferred(Exception):
    """The message lost a race with another worker; it stays pending for later."""


@dataclass(frozen=True)
class Processor:
    """What a pipeline worker needs; built once per process."""

    store: Store
    settings: Settings
    secret: bytes
    templates: MailTemplates
    typical_waits: TypicalWaits = field(default_factory=TypicalWaits)
    claim_batch: int = CLAIM_BATCH
    metrics: Metrics = field(default_factory=NoMetrics)
    # Built from the faq_entries table when the worker starts (Desk.processor).
    faq: FaqIndex | None = None
    # The dedupe stage's candidate index, kept across messages (None: read per message).
    dedupe_index: CandidateIndex | None = None

    @cached_property
    def resources(self) -> Resources:
        return Resources(faq=self.faq, dedupe_index=self.dedupe_index, typical_waits=self.typical_waits)

    def process_next(self) -> Work | None:
        """Claim one pending message and process it; None when there is none."""
        done = self.process_batch(1)
        return done[0] if done else None

    def process_batch(self, size: int) -> list[Work]:
        """Process up to SIZE pending messages, each in its own savepoint, and
        commit them together: one commit (one WAL flush) covers the batch.
        Returns one Work per claimed message; one that lost a race with
        another worker comes back `deferred` and stays pending for later."""
        if self.store.is_sqlite:
            return self._process_peeked(size)
        results: list[Work] = []
        # PostgreSQL: FOR UPDATE SKIP LOCKED, so concurrent workers on any
        # host take disjoint rows.
        with self._batch_transaction() as session:
            claimed = _claim_batch(session, size)
            earlier = _claims_of(session, [inbound.id for inbound in claimed])
            claimed = _alone_if_suspect(claimed, earlier)
            spent = _spent(earlier)
            # On a second connection, so the count survives this transaction's
            # rollback when the message kills the process.
            self._record_claims([i.id for i in claimed if i.id not in spent])
            for inbound in claimed:
                if inbound.id in spent:
                    results.append(self._poisoned(session, inbound, earlier[inbound.id]))
                    continue
                try:
                    results.append(self._process_claimed(session, inbound, None))
                except _Deferred as why:
                    log.warning("inbound %d deferred: %s", inbound.id, why)
                    results.append(Work(inbound=inbound, finished=f"{DEFERRED}{why}"))
            _forget_finished_claims(session, claimed, spent)
        for work in results:
            self._done(work)
        return results

    def _process_peeked(self, size: int) -> list[Work]:
        """SQLite locks the whole database for a writer: read and prepare the
        messages first, then take the lock for the stages that write."""
        peeked, earlier = self._peek(size)
        if not peeked:
            return []
        peeked = _alone_if_suspect(peeked, earlier)
        spent = _spent(earlier)
        self._record_claims([i.id for i in peeked if i.id not in spent])
        prepared = [None if inbound.id in spent else self._try_prepare(inbound) for inbound in peeked]
        results: list[Work] = []
        with self._batch_transaction() as session:
            # Another worker may have finished a peeked message meanwhile.
            pending = _still_pending(session, [inbound.id for inbound in peeked])
            for inbound, work in zip(peeked, prepared, strict=True):
                if inbound.id not in pending:
                    continue
                if inbound.id in spent:
                    results.append(self._poisoned(session, inbound, earlier[inbound.id]))
                else:
                    results.append(self._process_claimed(session, inbound, work))
            _forget_finished_claims(session, peeked, spent)
        if not results:
            return self._process_peeked(size)
        for work in results:
            self._done(work)
        return results

    @contextmanager
    def _batch_transaction(self) -> Iterator[Session]:
        """The transaction of one batch. It holds what it loads (`hold_instances`),
        and the dedupe index catches up once for the whole batch; the dedupe stage
        then adds each mail it files, so the next mail of the batch sees it."""
        with self._index_forgets_on_rollback(), self.store.transaction() as session:
            hold_instances(session)
            if self.dedupe_index is not None:
                self.dedupe_index.catch_up(session, datetime.now(UTC))
            yield session

    @contextmanager
    def _index_forgets_on_rollback(self) -> Iterator[None]:
        """What the dedupe stage added to the index inside this block is dropped
        again when the block raises: its rows were rolled back."""
        index = self.dedupe_index
        mark = index.last_id if index is not None else 0
        try:
            yield
        except BaseException:
            if index is not None:
                index.forget_since(mark)
            raise

    def _record_claims(self, inbound_ids: list[int]) -> None:
        """Count one claim of each message, committed now, before any of them is processed."""
        if inbound_ids:
            now = datetime.now(UTC)
            with self.store.transaction() as session:
                session.execute(
                    insert(InboundClaim), [{"inbound_id": i, "claimed_at": now} for i in inbound_ids]
                )

    def _poisoned(self, session: Session, inbound: InboundMessage, claims: int) -> Work:
        why = PoisonMail(f"worker died {claims} times on this mail")
        return self._failed(session, inbound, why, datetime.now(UTC))

    def _process_claimed(
        self, session: Session, inbound: InboundMessage, prepared: Work | PoisonMail | None
    ) -> Work:
        """Run the stages for a claimed message in the open transaction and mark it done (or failed)."""
        now = datetime.now(UTC)
        if isinstance(prepared, PoisonMail):
            return self._failed(session, inbound, prepared, now)
        env = StageEnv(session, self.settings, now, self.secret, self.templates, self.resources, self.metrics)
        for attempt in (1, 2):
            try:
                with self._index_forgets_on_rollback(), session.begin_nested(), self._time_limit():
                    work = prepared or prepare(Work(inbound=inbound), self.settings, self.metrics)
                    work = run_stages(work, env)
                break
            except IntegrityError as error:
                # Another worker committed a row this message also wanted (the
                # same Message-ID, say) while it ran: once more, now seeing it.
                if attempt == 1:
                    continue
                return self._failed(session, inbound, error, now)
            except DBAPIError as error:
                if getattr(error.orig, "sqlstate", None) in _TRANSIENT_SQLSTATES:
                    raise _Deferred(str(error.orig)) from error
                return self._failed(session, inbound, error, now)
            except Exception as error:
                return self._failed(session, inbound, error, now)
        result = work.finished or "; ".join(work.notes)
        update_row(
            session,
            Inbound,
            inbound.id,
            {"status": "done", "processed_at": now, "error": None, "result": result},
        )
        return work

    def _failed(self, session: Session, inbound: InboundMessage, error: Exception, now: datetime) -> Work:
        _mark_failed(session, inbound.id, error, now)
        log.error(
            "inbound %d failed: %s: %s",
            inbound.id,
            type(error).__name__,
            error,
            extra={"inbound_id": inbound.id, "decision": "failed", "error": type(error).__name__},
        )
        return Work(inbound=inbound, finished=f"failed: {error}")

    def _done(self, work: Work) -> None:
        """After the commit: count the message, and log one line for it (failures were logged as errors)."""
        if work.finished and work.finished.startswith(DEFERRED):
            return
        if work.finished and work.finished.startswith("failed: "):
            self.metrics.processed("failed")
            return
        self.metrics.processed("done")
        _log_processed(work, work.finished or "; ".join(work.notes))

    def _peek(self, size: int) -> tuple[list[InboundMessage], dict[int, int]]:
        """The oldest pending messages, and how often each was claimed before."""
        with self.store.read() as session:
            rows = session.execute(
                SELECT_INBOUND.where(Inbound.status == "pending").order_by(Inbound.id).limit(size)
            ).all()
            peeked = [inbound_message(row) for row in rows]
            return peeked, _claims_of(session, [inbound.id for inbound in peeked])

    def _try_prepare(self, inbound: InboundMessage) -> Work | PoisonMail | None:
        try:
            with self._time_limit():
                return prepare(Work(inbound=inbound), self.settings, self.metrics)
        except PoisonMail as slow:  # recorded as the failure inside the transaction
            return slow
        except Exception:  # prepared again inside the transaction, where a failure is recorded
            return None

    @contextmanager
    def _time_limit(self) -> Iterator[None]:
        """End a message that takes longer than [pipeline] message_timeout_seconds with PoisonMail.

        A timer signal interrupts Python code wherever it runs; it exists only
        in a process's main thread (a `serve` child, `postdesk process`), so a
        worker run in another thread (tests, benchmarks) has no limit."""
        seconds = self.settings.pipeline.message_timeout_seconds
        # The language model's load (about a second, once per worker) is the
        # worker's start, not the first message's time.
        self.resources.language.load()
        if not seconds or threading.current_thread() is not threading.main_thread():
            yield
            return

        def expired(signum: int, frame: object) -> None:
            raise PoisonMail(
                f"processing took longer than {seconds:g} s ([pipeline] message_timeout_seconds)"
            )

        previous = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def process_pending(self, limit: int | None = None) -> int:
        """Process until nothing is pending (or LIMIT messages); returns the count."""
        count = 0
        while limit is None or count < limit:
            wanted = self.claim_batch if limit is None else min(self.claim_batch, limit - count)
            batch = self.process_batch(wanted)
            if not batch:
                break
            count += sum(1 for work in batch if not (work.finished or "").startswith(DEFERRED))
        return count


def _still_pending(session: Session, peeked: list[int]) -> set[int]:
    """SQLite: the transaction already holds the write lock, so the peeked rows
    still pending are ours (no other worker can finish them meanwhile)."""
    rows = session.execute(select(Inbound.id).where(Inbound.id.in_(peeked), Inbound.status == "pending"))
    return set(rows.scalars())


def _claims_of(session: Session, inbound_ids: list[int]) -> dict[int, int]:
    """How often each of INBOUND_IDS was claimed without finishing."""
    if not inbound_ids:
        return {}
    rows = session.execute(
        select(InboundClaim.inbound_id, func.count())
        .where(InboundClaim.inbound_id.in_(inbound_ids))
        .group_by(InboundClaim.inbound_id)
    )
    return {inbound_id: count for inbound_id, count in rows}


def _spent(earlier: dict[int, int]) -> set[int]:
    """The messages that used up their claims: they are failed, not processed."""
    return {inbound_id for inbound_id, claims in earlier.items() if claims >= MAX_CLAIMS}


def _forget_finished_claims(session: Session, claimed: list[InboundMessage], spent: set[int]) -> None:
    """The batch's messages are finished (done, failed, or back to pending after a lost
    race): the worker survived them, so their claims go. A poisoned one keeps its count."""
    finished = [inbound.id for inbound in claimed if inbound.id not in spent]
    if finished:
        session.execute(delete(InboundClaim).where(InboundClaim.inbound_id.in_(finished)))


def _alone_if_suspect(claimed: list[InboundMessage], earlier: dict[int, int]) -> list[InboundMessage]:
    """A message claimed before may be what killed the worker: it runs alone, so
    a crash counts against it and not against the messages batched with it."""
    suspect = next((inbound for inbound in claimed if earlier.get(inbound.id)), None)
    return claimed if suspect is None else [suspect]


def _claim_batch(session: Session, size: int) -> list[InboundMessage]:
    """PostgreSQL: lock up to SIZE of the oldest pending messages no other worker holds."""
    rows = session.execute(
        SELECT_INBOUND.where(Inbound.status == "pending")
        .order_by(Inbound.id)
        .limit(size)
        .with_for_update(skip_locked=True, of=Inbound)
    ).all()
    return [inbound_message(row) for row in rows]


def _log_processed(work: Work, result: str) -> None:
    """The one info line per processed message: ids, kind and decisions; never the message's text."""
    if work.ticket_id is None:
        where = "no ticket"
    else:
        where = f"ticket {work.ticket_id} ({'new' if work.new_ticket else work.threaded_by})"
    log.info(
        "inbound %d via %s: %s %s: %s",
        work.inbound.id,
        work.inbound.via,
        work.kind or "-",
        where,
        result or "stored",
        extra={
            "inbound_id": work.inbound.id,
            "via": work.inbound.via,
            "ticket_id": work.ticket_id,
            "new_ticket": work.new_ticket,
            "threaded_by": work.threaded_by if work.ticket_id is not None else None,
            "kind": work.kind,
            "decision": result or "stored",
        },
    )


def retry_failed(store: Store) -> int:
    """Put every failed message back in the queue; returns how many."""
    with store.transaction() as session:
        failed = select(Inbound.id).where(Inbound.status == "failed")
        forget_claims(session, failed)
        result = session.execute(update(Inbound).where(Inbound.status == "failed").values(status="pending"))
        return cast("CursorResult[Any]", result).rowcount or 0


def _mark_failed(session: Session, inbound_id: int, error: Exception, now: datetime) -> None:
    summary = traceback.format_exception_only(error)[-1].strip()
    where = traceback.extract_tb(error.__traceback__)[-1:]
    location = f" at {where[0].filename}:{where[0].lineno}" if where else ""
    if isinstance(error, PoisonMail):
        summary, location = str(error), ""  # where the timer struck says nothing
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
