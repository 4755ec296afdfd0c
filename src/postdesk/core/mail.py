"""The parsed mail: one immutable value that every pipeline stage reads.

`postdesk.parse.mime.parse_mail` builds it from raw bytes; nothing else
constructs it outside tests. Message-IDs are kept without angle brackets
and compared as given (RFC 5322 says they are opaque).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Address:
    """A mailbox: the address as written, and its decoded display name."""

    email: str
    name: str = ""

    @property
    def key(self) -> str:
        """The form used for comparing addresses: lower-cased."""
        return self.email.lower()

    @property
    def local_part(self) -> str:
        return self.email.rpartition("@")[0] or self.email

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2].lower() if "@" in self.email else ""


def mailbox_of(address: str) -> str:
    """The mailbox behind ADDRESS: lower-cased, without a ``+tag`` (``Bob+1@X`` -> ``bob@x``).

    What the limits on automatic mail count by: ``bob+1@``, ``bob+2@`` and
    ``BOB@`` reach one person, so they share one limit.
    """
    local, at, domain = address.strip().lower().rpartition("@")
    if not at:
        return address.strip().lower()
    return f"{local.partition('+')[0] or local}@{domain}"


def domain_of(address: str) -> str:
    """The lower-cased domain of ADDRESS, '' when it has none."""
    local, at, domain = address.strip().lower().rpartition("@")
    return domain if at else ""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A MIME leaf that is not the body text: a file, an inline image, a report part."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class Mail:
    """What could be read of one message, plus the defects met on the way."""

    message_id: str | None
    subject: str
    from_: Address | None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    date: datetime | None = None
    text: str = ""
    html_converted: bool = False
    attachments: tuple[Attachment, ...] = ()
    content_type: str = "text/plain"
    # (lower-case name, decoded value) for every header, in order; a tuple so
    # the value stays hashable and immutable.
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    defects: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """The first value of a header, or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)

    def header_values(self, name: str) -> Iterator[str]:
        wanted = name.lower()
        return (value for key, value in self.headers if key == wanted)

    @property
    def sender_email(self) -> str:
        """The From address lower-cased, or '' when the mail has none."""
        return self.from_.key if self.from_ else ""

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """In-Reply-To first, then References newest first: the order to look them up."""
        seen: dict[str, None] = {}
        for mid in (*self.in_reply_to, *reversed(self.references)):
            seen.setdefault(mid, None)
        return tuple(seen)
