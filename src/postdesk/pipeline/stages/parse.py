"""The first stages: read the mail, say what kind it is, and stop early if it
is a repeated delivery of a message we already stored."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

from postdesk.config.model import Settings
from postdesk.core.work import Work
from postdesk.parse.mime import parse_mail

# Where the header block ends, line endings LF or CRLF.
_EMPTY_LINE = re.compile(rb"\n\r?\n")


def parse(work: Work, settings: Settings) -> Work:
    mail = parse_mail(work.inbound.raw)
    return replace(work, mail=mail, dedupe_key=delivery_key(mail.message_id, work.inbound.raw))


def delivery_key(message_id: str | None, raw: bytes) -> str:
    """What makes two deliveries the same message.

    The same mail delivered twice (a retry after a lost 250, two MX paths, an
    IMAP re-import) has the same Message-ID and the same body; the headers
    differ (Received, Return-Path). Different mail that reuses a Message-ID
    (broken clients, generated bounces) has a different body, and is kept:
    a doubled message is a nuisance, a lost one is not acceptable.
    Without a Message-ID the whole raw bytes decide.
    """
    if not message_id:
        return f"sha256:{hashlib.sha256(raw).hexdigest()}"
    # The body after the first empty line, with CRLF as LF and no trailing white space.
    blank = _EMPTY_LINE.search(raw)
    body = raw[blank.end() :] if blank else b""
    if b"\r" in body:
        body = body.replace(b"\r\n", b"\n")
    digest = hashlib.sha256(body.rstrip()).hexdigest()[:32]
    return f"mid:{digest}:{message_id}"[:1000]
