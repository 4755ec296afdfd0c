"""What makes two deliveries the same message: the delivery key (docs/parsing.md, "The delivery key").

The same mail delivered twice (a retry after a lost 250, two MX paths, an
IMAP re-import) differs only in what the servers on the way added: trace
headers (Received, Return-Path, Delivered-To, DKIM/ARC signatures and
Authentication-Results). Everything the writer wrote is the same.

A Message-ID is no proof of that: broken clients reuse one for every mail,
ticket systems send each update of an incident under the incident's id, and
an attacker can copy anyone's. So the key is the Message-ID *and* a digest
of what the writer wrote that says who and what: From, Subject, the
Content-* headers and the body. Without a Message-ID the digest covers the
whole message minus its trace headers. A doubled message is a nuisance; a
lost one is not acceptable.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

# Where the header block ends, line endings LF or CRLF.
_EMPTY_LINE = re.compile(rb"\r?\n\r?\n")
_WHITESPACE = re.compile(rb"\s+")

# The headers the digest covers when there is a Message-ID: who wrote it,
# about what, and how the body reads (every Content-* header).
_IDENTITY = frozenset({b"from", b"sender", b"subject", b"mime-version"})

# Headers mail servers and mailbox stores add on the way in: a repeat
# delivered by another path, or imported again, differs in these only.
_TRACE = frozenset(
    {
        b"received",
        b"return-path",
        b"delivered-to",
        b"x-original-to",
        b"envelope-to",
        b"x-envelope-from",
        b"x-envelope-to",
        b"received-spf",
        b"authentication-results",
        b"arc-seal",
        b"arc-message-signature",
        b"arc-authentication-results",
        b"dkim-signature",
        b"x-google-dkim-signature",
        b"x-received",
        b"x-uid",
        b"x-keywords",
        b"status",
        b"x-status",
    }
)
# Spam and virus scanners' verdicts, added by whichever server scanned it.
_TRACE_PREFIXES = (b"x-spam-", b"x-virus-")

DIGEST_HEX = 32


def delivery_key(message_id: str | None, raw: bytes) -> str:
    """The key under which RAW is stored once: ``mid:<digest>:<Message-ID>``, else ``raw:<digest>``."""
    head, body = _split(raw)
    fields = list(_fields(head))
    if message_id:
        kept = [line for name, line in fields if name in _IDENTITY or name.startswith(b"content-")]
        digest = _digest([*kept, b"", _normalised_body(body)])
        return f"mid:{digest}:{message_id}"[:1000]
    kept = [line for name, line in fields if not _is_trace(name)]
    return f"raw:{_digest([*kept, b'', _normalised_body(body)])}"


def _split(raw: bytes) -> tuple[bytes, bytes]:
    if raw.startswith(b"From "):  # an mbox separator line: written by the mailbox, not the sender
        raw = raw.partition(b"\n")[2]
    blank = _EMPTY_LINE.search(raw)
    if blank is None:
        return raw, b""
    return raw[: blank.start()], raw[blank.end() :]


def _fields(head: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(lower-case name, the field unfolded: "name: value", white space runs as one space) per header."""
    current: list[bytes] = []
    for line in head.splitlines():
        if line[:1] in (b" ", b"\t") and current:
            current.append(line)
            continue
        if current:
            yield _field(current)
        current = [line]
    if current:
        yield _field(current)


def _field(lines: list[bytes]) -> tuple[bytes, bytes]:
    name, _, value = _WHITESPACE.sub(b" ", b" ".join(lines)).partition(b":")
    name = name.strip().lower()
    return name, name + b": " + value.strip()


def _is_trace(name: bytes) -> bool:
    return name in _TRACE or name.startswith(_TRACE_PREFIXES)


def _normalised_body(body: bytes) -> bytes:
    """The body with CRLF as LF and no trailing white space: what a store or a relay may change."""
    if b"\r" in body:
        body = body.replace(b"\r\n", b"\n")
    return body.rstrip()


def _digest(parts: list[bytes]) -> str:
    return hashlib.sha256(b"\n".join(parts)).hexdigest()[:DIGEST_HEX]
