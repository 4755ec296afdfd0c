"""A ticket's files: what customers attached and the voicemail recordings, for agents.

Numbered 1, 2, … in the order they came (message by message), the number
an agent or operator names them by (`postdesk tickets attachment 10001 2`).
Inline parts (a signature's logo, an HTML mail's images) are not files a
customer sent and are left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from postdesk.core.mail import Attachment as MailFile
from postdesk.store.models import Attachment, Blob, Message


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One file of a ticket: its number on the ticket, its name and size, and where its bytes are."""

    index: int
    message_row_id: int
    filename: str
    content_type: str
    size: int
    sha256: str

    @property
    def label(self) -> str:
        """The name as shown to an agent: the file's own, or a stand-in for a nameless part."""
        return self.filename or f"file-{self.index}"


def ticket_files(session: Session, ticket_id: int) -> list[StoredFile]:
    """Every file of TICKET_ID's messages, numbered from 1 in the order they came."""
    rows = session.execute(
        select(Attachment)
        .join(Message, Attachment.message_row_id == Message.id)
        .where(Message.ticket_id == ticket_id, Attachment.inline.is_(False))
        .order_by(Message.id, Attachment.id)
    ).scalars()
    return [
        StoredFile(n, row.message_row_id, row.filename, row.content_type, row.size, row.blob_sha256)
        for n, row in enumerate(rows, start=1)
    ]


def message_files(session: Session, ticket_id: int, message_row_id: int) -> list[StoredFile]:
    """The files of one message, with their numbers on the ticket."""
    return [file for file in ticket_files(session, ticket_id) if file.message_row_id == message_row_id]


def pick(files: Sequence[StoredFile], wanted: str) -> StoredFile | None:
    """The file WANTED names: its number on the ticket, or its file name (the first of that name)."""
    if wanted.isdigit():
        return next((file for file in files if file.index == int(wanted)), None)
    return next((file for file in files if file.filename == wanted), None)


def load(session: Session, files: Sequence[StoredFile]) -> tuple[MailFile, ...]:
    """FILES with their bytes, ready to go along with a mail."""
    blobs = {
        blob.sha256: blob.data
        for blob in session.execute(select(Blob).where(Blob.sha256.in_({f.sha256 for f in files}))).scalars()
    }
    return tuple(MailFile(file.label, file.content_type, blobs[file.sha256]) for file in files)


@dataclass(frozen=True, slots=True)
class Packing:
    """FILES split into mails of at most a limit each, and those too large for any mail."""

    mails: tuple[tuple[StoredFile, ...], ...]
    too_large: tuple[StoredFile, ...]


def pack(files: Sequence[StoredFile], max_bytes: int) -> Packing:
    """Fill mails of at most MAX_BYTES in the files' order; a file over MAX_BYTES goes in none."""
    mails: list[list[StoredFile]] = []
    too_large = []
    size = 0
    for file in files:
        if file.size > max_bytes:
            too_large.append(file)
            continue
        if not mails or size + file.size > max_bytes:
            mails.append([])
            size = 0
        mails[-1].append(file)
        size += file.size
    return Packing(tuple(tuple(mail) for mail in mails), tuple(too_large))


_UNSAFE = re.compile(r"[^\w.\- ()+,=@]+")


def safe_filename(file: StoredFile) -> str:
    """A name to write FILE under in a folder: the customer chose it, so no path, no dot-files.

    "../../etc/passwd" becomes "passwd", "" or ".." a numbered stand-in, and
    characters a shell or a file system may read as more than a name are
    replaced."""
    name = file.filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    return name[:200] if name else f"file-{file.index}"
