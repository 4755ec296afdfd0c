"""Candidate blocking: which earlier mails are worth scoring at all.

Scoring a new mail against every open ticket does not scale (rapidfuzz over
100,000 texts takes about 600 ms), so the index narrows them down first:

- a **sender index** (sender → their recent mails) for ``same_sender`` rules;
- an **inverted index of rare tokens** for ``anyone`` rules: the new mail's
  rarest words (those few other mails in the window use) name the mails that
  could describe the same thing; the ones sharing most of them are scored.

The index holds the mails of the longest rule window, is built from the
``dedupe_entries`` table on start, takes in each mail the worker files, and
catches up with rows other workers committed before each batch of mail. It
only proposes: the stage reads each candidate's ticket and status from the
database before trusting it.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from postdesk.config.model import DedupeRule
from postdesk.dedupe.normalise import NormalMail
from postdesk.store.models import DedupeEntry

# Words too short or too common in support mail to say what a mail is about.
_TOKEN = re.compile(r"[^\W\d_]{3,}|\d[\w-]{3,}", re.UNICODE)
_STOPWORDS = """
    the and for you your with that this have has are was were not but can could would please
    from our out any all there their them they what when how why who which will just about
    thanks thank hello dear regards since still also into been being get got does did had
    would like want need can't don't i'm its it's where then than very some more
    der die das und ist ich nicht ein eine einen einem mit von für auf den dem des sie wir ihr
    mein meine meinen meines meinem meiner bitte danke hallo sehr habe hat haben wird kann können
    noch schon seit auch aber oder wie was wenn dass bei nach aus zum zur uns ihnen ihre ihrem
    ihren mir mich möchte würde gern gerne dafür da dort hier wo finde geht es
"""
STOPWORDS = frozenset(_STOPWORDS.split())
# How many of a new mail's rarest words look up other mails, and how many of those get scored.
RARE_TOKENS = 8
MAX_SCORED = 40
# A word in more mails than this (of the window) names no particular concern.
MAX_POSTINGS = 5000


def tokens(text: str) -> set[str]:
    return {t for t in _TOKEN.findall(text) if t not in STOPWORDS}


@dataclass(frozen=True, slots=True)
class Entry:
    """One earlier mail: its ticket (as last read), sender, time and normalised text."""

    id: int
    ticket_id: int
    sender: str
    created_at: datetime
    mail: NormalMail

    def identifiers(self) -> frozenset[str]:
        return self.mail.identifiers()


class CandidateIndex:
    """Blocking structures over the mails of the last WINDOW. Not thread-safe: one per worker."""

    def __init__(self, window: timedelta, overlap: int = 0) -> None:
        self.window = window
        # Rows to re-read behind the newest seen id: on PostgreSQL a smaller id can commit later.
        self.overlap = overlap
        self._entries: dict[int, Entry] = {}
        self._by_sender: dict[str, list[int]] = {}
        self._postings: dict[str, list[int]] = {}
        self._last_id = 0
        self._oldest_live = 0  # entry ids below this are out of the window

    def __len__(self) -> int:
        return len(self._entries)

    def load(self, session: Session, now: datetime, batch: int = 20_000) -> int:
        """Read the window's entries (on start); returns how many."""
        since = now - self.window
        rows = session.connection().execute(
            _ENTRIES_SINCE.execution_options(yield_per=batch),
            {"since": since, "after": self._last_id - self.overlap},
        )
        count = 0
        for row in rows:
            if row.id not in self._entries:
                self.add(
                    Entry(
                        row.id,
                        row.ticket_id,
                        row.sender,
                        row.created_at,
                        NormalMail(row.subject, row.body, row.quoted),
                    )
                )
                count += 1
        return count

    def catch_up(self, session: Session, now: datetime) -> int:
        """Take in what other workers (and earlier transactions) stored; drop what left the window."""
        added = self.load(session, now)
        self.expire(now)
        return added

    @property
    def last_id(self) -> int:
        """The newest entry id taken in: the mark for `forget_since`."""
        return self._last_id

    def forget_since(self, mark: int) -> None:
        """Drop the entries with ids above MARK: the transaction that filed them
        rolled back, and the store may give their ids to other mail. Rows other
        workers committed meanwhile are dropped too, and read again on catch-up."""
        dropped = [entry for entry_id, entry in self._entries.items() if entry_id > mark]
        for entry in dropped:
            del self._entries[entry.id]
            self._unlink_sender(entry)
            for token in tokens(f"{entry.mail.subject} {entry.mail.body}"):
                postings = self._postings.get(token)
                if postings is not None and entry.id in postings:
                    postings.remove(entry.id)
                    if not postings:
                        del self._postings[token]
        self._last_id = min(self._last_id, mark)

    def add(self, entry: Entry) -> None:
        self._entries[entry.id] = entry
        self._last_id = max(self._last_id, entry.id)
        self._by_sender.setdefault(entry.sender, []).append(entry.id)
        for token in tokens(f"{entry.mail.subject} {entry.mail.body}"):
            postings = self._postings.setdefault(token, [])
            if postings and postings[-1] > entry.id:
                postings.insert(bisect_left(postings, entry.id), entry.id)
            else:
                postings.append(entry.id)

    def expire(self, now: datetime) -> None:
        """Forget entries older than the window (entries arrive in about time order)."""
        since = now - self.window
        expired = []
        for entry_id, entry in self._entries.items():
            if entry.created_at >= since:
                break
            expired.append(entry_id)
        if not expired:
            return
        for entry_id in expired:
            self._unlink_sender(self._entries.pop(entry_id))
        self._oldest_live = expired[-1] + 1
        # Posting lists are trimmed lazily (`_live`) and compacted when much of them is dead.
        if len(expired) > 1000:
            self._compact()

    def _unlink_sender(self, entry: Entry) -> None:
        mine = self._by_sender.get(entry.sender)
        if mine is not None:
            mine.remove(entry.id)
            if not mine:
                del self._by_sender[entry.sender]

    def _compact(self) -> None:
        for token in list(self._postings):
            kept = [i for i in self._postings[token] if i in self._entries]
            if kept:
                self._postings[token] = kept
            else:
                del self._postings[token]

    def _live_from(self, postings: list[int]) -> int:
        """Where the live part of a posting list starts (the ids before have left the window)."""
        return bisect_left(postings, self._oldest_live) if postings[0] < self._oldest_live else 0

    def same_sender(self, sender: str, since: datetime) -> list[Entry]:
        """SENDER's mails since SINCE, newest first."""
        found = (self._entries[i] for i in reversed(self._by_sender.get(sender, ())) if i in self._entries)
        return [entry for entry in found if entry.created_at >= since]

    def similar(self, mail: NormalMail, since: datetime, exclude_sender: str = "") -> list[Entry]:
        """Mails since SINCE that share the most of MAIL's rarest words (at most MAX_SCORED)."""
        words = tokens(f"{mail.subject} {mail.body}")
        usable = []
        for word in words:
            postings = self._postings.get(word)
            if postings:
                start = self._live_from(postings)
                count = len(postings) - start
                if 0 < count <= MAX_POSTINGS:
                    usable.append((count, word, start))
        usable.sort()
        rare = usable[:RARE_TOKENS]
        if not rare:
            return []
        hits: Counter[int] = Counter()
        for _count, word, start in rare:
            postings = self._postings[word]
            hits.update(postings[start:] if start else postings)
        # Sharing one rare word is enough only when the mail has just one to offer.
        needed = 2 if len(rare) >= 3 else 1
        found: list[Entry] = []
        for entry_id, shared in hits.most_common():
            if shared < needed or len(found) >= MAX_SCORED:
                break
            entry = self._entries.get(entry_id)
            if entry is not None and entry.created_at >= since and entry.sender != exclude_sender:
                found.append(entry)
        return found

    def entries(self) -> Iterator[Entry]:
        return iter(self._entries.values())


# Built once: SQLAlchemy then finds its compiled form without re-walking the statement.
_ENTRIES_SINCE = (
    select(
        DedupeEntry.id,
        DedupeEntry.ticket_id,
        DedupeEntry.sender,
        DedupeEntry.created_at,
        DedupeEntry.subject,
        DedupeEntry.body,
        DedupeEntry.quoted,
    )
    .where(DedupeEntry.created_at >= bindparam("since"), DedupeEntry.id > bindparam("after"))
    .order_by(DedupeEntry.id)
)


def proposed(
    index: CandidateIndex, rule: DedupeRule, mail: NormalMail, sender: str, now: datetime
) -> list[Entry]:
    """The earlier mails RULE scores for a new MAIL from SENDER: the sender's own for
    ``same_sender``; for ``anyone``, other senders' mails that share rare words with it."""
    since = now - rule.window_delta
    if rule.scope == "same_sender":
        return index.same_sender(sender, since)
    return index.similar(mail, since, exclude_sender=sender)
