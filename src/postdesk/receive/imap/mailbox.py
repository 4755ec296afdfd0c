"""Reading one IMAP folder into the inbound spool, never losing or doubling a mail.

One `sync` pass:

1. SELECT the folder; compare its UIDVALIDITY (and where it is) with the
   stored state. A change means the old UIDs mean nothing now: the folder
   is read again from the start. Mail stored before is then stored once
   more in the spool and recognised by the pipeline's repeated-delivery
   stage (Message-ID + body hash), so it never becomes a second ticket.
2. Finish what a crash interrupted: mail at or below the stored last UID
   that is still waiting was stored but not yet moved/flagged.
3. Import the mail above the last UID in batches (bounded count and bytes):
   sizes first, oversize mail to the refused folder, then the bodies with
   BODY.PEEK (which leaves \\Seen alone), one spool transaction per batch
   that also moves the last UID; only after that commit is the mail moved
   to the processed folder (MOVE, else COPY + \\Deleted + UID EXPUNGE with
   UIDPLUS, else COPY + \\Deleted left for the server; never a plain
   EXPUNGE) or flagged \\Seen.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import getaddresses, parseaddr

from imapclient import IMAPClient

from postdesk.config.model import ImapMailboxSettings
from postdesk.ops.metrics import Metrics, NoMetrics
from postdesk.receive.imap.client import Capabilities, ImapProblem, ensure_folder, select, source_of
from postdesk.receive.imap.state import Advance, MailboxState, apply, load_state, save
from postdesk.receive.spool import Received, spool_messages
from postdesk.store.session import Store

log = logging.getLogger(__name__)

# A batch: at most this many messages, and at most this many bytes of them
# in memory at once (a single larger message is a batch of its own).
BATCH_MESSAGES = 100
BATCH_BYTES = 16 * 1024 * 1024

SEEN = b"\\Seen"
DELETED = b"\\Deleted"
FLAGGED = b"\\Flagged"


@dataclass(frozen=True, slots=True)
class SyncResult:
    imported: int = 0
    refused: int = 0
    finished: int = 0  # stored earlier, moved/flagged now (after an interruption)


@dataclass(frozen=True)
class Reader:
    """Reads MAILBOX into STORE; ON_STORED wakes the pipeline after each commit."""

    mailbox: ImapMailboxSettings
    store: Store
    on_stored: Callable[[], None] = lambda: None
    # Called between batches, so a watchdog sees a long import is alive.
    heartbeat: Callable[[], None] = lambda: None
    # Checked between batches: a stopping serve does not wait for a whole backlog.
    stopping: Callable[[], bool] = lambda: False
    # postdesk_mails_received_total{listener="imap"} with `serve --metrics`.
    metrics: Metrics = field(default_factory=NoMetrics)
    _warned: set[str] = field(default_factory=set, compare=False)

    @property
    def name(self) -> str:
        return self.mailbox.name

    def prepare(self, client: IMAPClient, caps: Capabilities) -> None:
        """Once per connection: the target folders exist, the way to move mail is known."""
        for folder in (self.mailbox.processed_folder, self.mailbox.refused_folder):
            if folder and ensure_folder(client, folder):
                log.info("imap %s: created folder %r", self.name, folder)
        if self.mailbox.processed_folder and not caps.move:
            how = (
                "COPY + \\Deleted + UID EXPUNGE"
                if caps.uidplus
                else "COPY + \\Deleted, left for the server to expunge (no UIDPLUS, so no EXPUNGE at all)"
            )
            self._warn_once("fallback", f"imap {self.name}: the server has no MOVE; moving by {how}")

    def sync(self, client: IMAPClient, caps: Capabilities, *, finish_pending: bool) -> SyncResult:
        """One pass over the folder (see the module's docstring)."""
        selected = select(client, self.mailbox.folder)
        source = source_of(self.mailbox)
        state = load_state(self.store, self.name)
        fresh = state is None or (state.source, state.uidvalidity) != (source, selected.uidvalidity)
        last_uid = resume_after(self.mailbox, state, selected.uidvalidity)
        if fresh:
            if state is not None:
                change = (
                    f"UIDVALIDITY changed from {state.uidvalidity} to {selected.uidvalidity}"
                    if state.source == source
                    else f"now reads {source} (was {state.source})"
                )
                log.warning(
                    "imap %s: %s; reading the folder from the start "
                    "(mail stored before is recognised and not doubled)",
                    self.name,
                    change,
                )
            save(self.store, Advance(self.name, source, selected.uidvalidity, 0, fresh=True), _now())
        finished = refused = 0
        if finish_pending and last_uid:
            finished, refused = self._finish_pending(client, caps, last_uid)
        waiting = self._waiting(client, last_uid)
        imported, more_refused = self._import(client, caps, waiting, source, selected.uidvalidity)
        return SyncResult(imported=imported, refused=refused + more_refused, finished=finished)

    def _unseen(self) -> list[str]:
        return _unseen(self.mailbox)

    def _waiting(self, client: IMAPClient, last_uid: int) -> list[int]:
        return waiting_uids(client, self.mailbox, last_uid)

    def _finish_pending(self, client: IMAPClient, caps: Capabilities, last_uid: int) -> tuple[int, int]:
        """Mail at or below LAST_UID still waiting: stored, but the move/flag was interrupted."""
        # NOT DELETED: without UIDPLUS, mail we copied away stays here flagged \Deleted.
        pending = sorted(client.search(["UID", f"1:{last_uid}", "NOT", "DELETED", *self._unseen()]))
        pending = [uid for uid in pending if uid <= last_uid]
        if not pending:
            return 0, 0
        sizes = self._sizes(client, pending)
        oversize = [uid for uid in pending if sizes.get(uid, 0) > self.mailbox.max_message_bytes]
        stored = [uid for uid in pending if uid in sizes and uid not in oversize]
        if oversize:
            self._refuse(client, caps, oversize, sizes, again=True)
        if stored:
            log.info(
                "imap %s: %d message(s) were stored but not yet %s (interrupted); doing that now",
                self.name,
                len(stored),
                f"moved to {self.mailbox.processed_folder!r}" if self.mailbox.processed_folder else "flagged",
            )
            self._acknowledge(client, caps, stored)
        return len(stored), 0

    def _import(
        self, client: IMAPClient, caps: Capabilities, uids: list[int], source: str, uidvalidity: int
    ) -> tuple[int, int]:
        if not uids:
            return 0, 0
        total = len(uids)
        if total > BATCH_MESSAGES:
            log.info(
                "imap %s: %d messages waiting; importing in batches of %d", self.name, total, BATCH_MESSAGES
            )
        imported = refused = 0
        for chunk in _chunks(uids, BATCH_MESSAGES):
            if self.stopping():
                log.info("imap %s: stopping; %d of %d imported, the rest waits", self.name, imported, total)
                break
            sizes = self._sizes(client, chunk)
            oversize = [uid for uid in chunk if sizes.get(uid, 0) > self.mailbox.max_message_bytes]
            if oversize:
                self._refuse(client, caps, oversize, sizes, again=False)
                save(self.store, Advance(self.name, source, uidvalidity, 0, refused=len(oversize)), _now())
                refused += len(oversize)
            wanted = [uid for uid in chunk if uid in sizes and uid not in oversize]
            advanced = 0
            for part in _by_bytes(wanted, sizes, BATCH_BYTES):
                received = self._fetch(client, part)
                advance = Advance(self.name, source, uidvalidity, part[-1], imported=len(received))
                spool_messages(self.store, received, also=apply(advance, _now()))
                self.on_stored()
                for _ in received:
                    self.metrics.received("imap", "stored")
                self._acknowledge(client, caps, part)
                imported += len(received)
                advanced = part[-1]
                self.heartbeat()
            if advanced < chunk[-1]:
                # Refused or vanished mail at the end of the chunk is behind us too.
                save(self.store, Advance(self.name, source, uidvalidity, chunk[-1]), _now())
            if total > BATCH_MESSAGES:
                log.info(
                    "imap %s: %d of %d imported%s",
                    self.name,
                    imported,
                    total,
                    f", {refused} refused" if refused else "",
                )
        log.info(
            "imap %s: imported %d message(s)%s",
            self.name,
            imported,
            f", refused {refused} over {self.mailbox.max_message_bytes} bytes" if refused else "",
        )
        return imported, refused

    def _sizes(self, client: IMAPClient, uids: Sequence[int]) -> dict[int, int]:
        fetched = client.fetch(list(uids), ["RFC822.SIZE"])
        sizes = {uid: int(data[b"RFC822.SIZE"]) for uid, data in fetched.items() if b"RFC822.SIZE" in data}
        self._check_complete(client, uids, sizes)
        return sizes

    def _fetch(self, client: IMAPClient, uids: Sequence[int]) -> list[Received]:
        fetched = client.fetch(list(uids), ["BODY.PEEK[]"])
        bodies = {uid: data[b"BODY[]"] for uid, data in fetched.items() if data.get(b"BODY[]") is not None}
        self._check_complete(client, uids, bodies)
        via = f"imap:{self.name}"
        return [_received(bytes(bodies[uid]), via) for uid in uids if uid in bodies]

    def _check_complete(self, client: IMAPClient, asked: Sequence[int], got: Mapping[int, object]) -> None:
        """Mail the server left out must be gone (expunged meanwhile); anything else is an error,
        so the last UID never passes a message that was not stored."""
        missing = [uid for uid in asked if uid not in got]
        if not missing:
            return
        still_there = [uid for uid in client.search(["UID", _uid_set(missing)]) if uid in missing]
        if still_there:
            raise ImapProblem(
                f"the server did not return message(s) UID {_uid_set(still_there)}; trying again later"
            )

    def _acknowledge(self, client: IMAPClient, caps: Capabilities, uids: Sequence[int]) -> None:
        """Stored mail leaves the folder (or is flagged \\Seen): only ever after the commit."""
        if self.mailbox.processed_folder:
            _transfer(client, caps, list(uids), self.mailbox.processed_folder)
        else:
            client.add_flags(list(uids), [SEEN])

    def _refuse(
        self, client: IMAPClient, caps: Capabilities, uids: list[int], sizes: dict[int, int], *, again: bool
    ) -> None:
        listing = ", ".join(f"UID {uid} ({sizes[uid]} bytes)" for uid in uids)
        if not again:
            for _ in uids:
                self.metrics.received("imap", "too_large")
        if self.mailbox.refused_folder:
            _transfer(client, caps, uids, self.mailbox.refused_folder)
            log.warning(
                "imap %s: refused %s: over max_message_bytes (%d); moved to %r",
                self.name,
                listing,
                self.mailbox.max_message_bytes,
                self.mailbox.refused_folder,
            )
            return
        client.add_flags(uids, [FLAGGED])
        if not again:
            log.warning(
                "imap %s: refused %s: over max_message_bytes (%d); left in %r, flagged "
                "(set refused_folder to move such mail away)",
                self.name,
                listing,
                self.mailbox.max_message_bytes,
                self.mailbox.folder,
            )

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)


def resume_after(mailbox: ImapMailboxSettings, state: MailboxState | None, uidvalidity: int) -> int:
    """The last UID already taken from MAILBOX's folder; 0: read it from the start."""
    if state is None or state.source != source_of(mailbox) or state.uidvalidity != uidvalidity:
        return 0
    return state.last_uid


def waiting_uids(client: IMAPClient, mailbox: ImapMailboxSettings, last_uid: int) -> list[int]:
    """The UIDs a pass would import from the selected folder, oldest first."""
    # New mail is read even when someone flagged it \Deleted: it is still
    # there, and a mail we skipped must never look like one we stored.
    found = client.search(["UID", f"{last_uid + 1}:*", *_unseen(mailbox)])
    # "n:*" always matches the highest UID, even when it is below n.
    return sorted(uid for uid in found if uid > last_uid)


def _unseen(mailbox: ImapMailboxSettings) -> list[str]:
    # Without a processed folder, \Seen is what marks mail as taken.
    return [] if mailbox.processed_folder else ["UNSEEN"]


def _transfer(client: IMAPClient, caps: Capabilities, uids: list[int], folder: str) -> None:
    """Move UIDS to FOLDER by the safest means the server offers; never a plain EXPUNGE,
    which would also remove mail someone else flagged \\Deleted and we never stored."""
    if caps.move:
        client.move(uids, folder)
        return
    client.copy(uids, folder)
    client.add_flags(uids, [DELETED])
    if caps.uidplus:
        client.uid_expunge(uids)


# The envelope headers a delivering server adds, with folded continuation lines.
_ENVELOPE_HEADER = re.compile(
    rb"^(return-path|delivered-to|x-original-to)[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE
)


def _received(raw: bytes, via: str) -> Received:
    """The envelope IMAP lost, from the headers the delivering server added.

    A regular expression over the header block, not a full header parse:
    this runs for every imported mail, and the parser comes later anyway."""
    head = _head(raw)
    envelope_from: str | None = None
    recipients: list[str] = []
    for match in _ENVELOPE_HEADER.finditer(head):
        name = match.group(1).lower()
        value = match.group(2).decode("ascii", errors="replace").replace("\r", "").replace("\n", "")
        if name == b"return-path":
            if envelope_from is None:  # the topmost one is the final delivery's
                envelope_from = parseaddr(value)[1]
            continue
        for _, address in getaddresses([value]):
            if address and address.lower() not in recipients:
                recipients.append(address.lower())
    return Received(raw=raw, via=via, envelope_from=envelope_from, recipients=tuple(recipients))


def _head(raw: bytes) -> bytes:
    for blank in (b"\r\n\r\n", b"\n\n"):
        end = raw.find(blank)
        if end >= 0:
            return raw[:end]
    return raw


def _chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _by_bytes(uids: Sequence[int], sizes: dict[int, int], limit: int) -> Iterator[list[int]]:
    part: list[int] = []
    used = 0
    for uid in uids:
        if part and used + sizes[uid] > limit:
            yield part
            part, used = [], 0
        part.append(uid)
        used += sizes[uid]
    if part:
        yield part


def _uid_set(uids: Sequence[int]) -> str:
    return ",".join(str(uid) for uid in uids)


def _now() -> datetime:
    return datetime.now(UTC)
