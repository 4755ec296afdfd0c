"""The durable inbound spool: every way in ends here, before anyone says yes.

`spool_messages` commits a batch of received messages in one transaction.
`SpoolWriter` is the group commit for the listeners: many SMTP sessions
hand their messages to one writer thread, which commits whatever has queued
up in a single transaction and then answers each session. Under load that
turns N commits into one, and the event loop never waits on the database.

A listener hands the writer a `Spooled` message: its bytes in a temporary
file (kept in memory only while small), read back by the writer thread just
before its insert. A batch holds at most `max_batch_bytes` of messages (or
one message, if that alone is larger), so what the process holds at once is
bounded by that, not by how many sessions are sending a large mail.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from sqlalchemy.orm import Session

from postdesk.store.models import Inbound, InboundRaw
from postdesk.store.rows import insert_rows
from postdesk.store.session import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Received:
    """A message as it arrived: raw bytes and the envelope around them."""

    raw: bytes
    via: str
    envelope_from: str | None
    recipients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Spooled:
    """A message a listener has written to FILE (SIZE bytes), and its envelope.

    Once submitted the file is the writer's: it closes the file after the
    commit (a session that ends meanwhile must not close it under the reader)."""

    file: IO[bytes]
    size: int
    via: str
    envelope_from: str | None
    recipients: tuple[str, ...]

    def load(self) -> Received:
        self.file.seek(0)
        return Received(self.file.read(), self.via, self.envelope_from, self.recipients)


def _size(message: Received | Spooled) -> int:
    return message.size if isinstance(message, Spooled) else len(message.raw)


class StoreUnavailable(Exception):
    """The spool could not be written; the sender must try again later."""


def spool_messages(
    store: Store,
    messages: Sequence[Received],
    now: datetime | None = None,
    *,
    also: Callable[[Session], None] | None = None,
) -> list[int]:
    """Commit MESSAGES to the spool; return their inbound ids. Raises StoreUnavailable.

    ALSO runs in the same transaction, so a reader's bookkeeping (an IMAP
    mailbox's last UID) commits together with the mail, or not at all.
    """
    received_at = now or datetime.now(UTC)
    rows = [
        Inbound(
            received_at=received_at,
            via=m.via,
            envelope_from=m.envelope_from,
            recipients=list(m.recipients),
            size=len(m.raw),
            status="pending",
            attempts=0,
        )
        for m in messages
    ]
    try:
        with store.transaction() as session:
            session.add_all(rows)
            session.flush()
            insert_rows(
                session,
                InboundRaw,
                [{"inbound_id": row.id, "raw": m.raw} for row, m in zip(rows, messages, strict=True)],
            )
            if also is not None:
                also(session)
            return [row.id for row in rows]
    except Exception as error:  # any failure to commit means "not stored"
        raise StoreUnavailable(f"{type(error).__name__}: {error}") from error


_STOP = object()


class SpoolWriter:
    """Threads that commit queued messages in batches (group commit).

    On PostgreSQL four writers (each with its own connection) overlap: while
    one waits for its commit to be flushed, the next already inserts what
    queued up meanwhile, so the sessions waiting for their 250 are not held
    up by one flush after another (measured: 1 writer 35%, 2 writers ~45%,
    4 writers ~65% of the bare sink's rate; docs/benchmarks.md). SQLite has
    one write lock, so there one writer does it all."""

    def __init__(
        self,
        store: Store,
        *,
        max_batch: int = 128,
        max_batch_bytes: int = 16 << 20,
        on_stored: Callable[[], None] = lambda: None,
        writers: int | None = None,
    ) -> None:
        self._store = store
        self._max_batch = max_batch
        self._max_batch_bytes = max_batch_bytes
        self._on_stored = on_stored
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        count = writers if writers is not None else (1 if store.is_sqlite else 4)
        self._threads = [
            threading.Thread(target=self._run, name=f"spool-writer-{n}", daemon=True) for n in range(count)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Finish what is queued, then end the threads."""
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join()

    def submit(self, message: Received | Spooled) -> Future[int]:
        """Queue MESSAGE; the future resolves to its inbound id once committed."""
        future: Future[int] = Future()
        self._queue.put((message, future))
        return future

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            size = self._item_size(batch[0])
            while len(batch) < self._max_batch and size < self._max_batch_bytes:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
                size += self._item_size(batch[-1])
            stops = sum(1 for item in batch if item is _STOP)
            if stops:
                stopping = True
                batch = [item for item in batch if item is not _STOP]
                for _ in range(stops - 1):  # another writer's stop: hand it on
                    self._queue.put(_STOP)
            if batch:
                self._commit(batch)  # type: ignore[arg-type]

    @staticmethod
    def _item_size(item: object) -> int:
        return 0 if item is _STOP else _size(item[0])  # type: ignore[index]

    def _commit(self, batch: list[tuple[Received | Spooled, Future[int]]]) -> None:
        try:
            messages = [m.load() if isinstance(m, Spooled) else m for m, _ in batch]
            ids = spool_messages(self._store, messages)
        except Exception as error:  # a spool file that cannot be read is "not stored" too
            failure = error if isinstance(error, StoreUnavailable) else StoreUnavailable(str(error))
            log.error("spool write failed for %d message(s): %s", len(batch), failure)
            for _, future in batch:
                future.set_exception(failure)
            return
        finally:
            for message, _ in batch:
                if isinstance(message, Spooled):
                    message.file.close()
        for (_, future), inbound_id in zip(batch, ids, strict=True):
            future.set_result(inbound_id)
        self._on_stored()
