"""`postdesk mailgate`: one message on stdin from a mail server's pipe hook.

The exit code is the answer the mail server acts on (sysexits.h):
0 stored; 75 (EX_TEMPFAIL) try again later — the mail server keeps the mail;
65 (EX_DATAERR) refused for good, with the reason on stderr, which the mail
server puts into the bounce: a message over the size limit, or input that is
no mail at all (`parse.is_mail`: empty, no header block, neither From nor
text), which a misconfigured pipe would otherwise turn into empty tickets.
"""

from __future__ import annotations

from typing import BinaryIO

from postdesk.parse.is_mail import not_a_mail
from postdesk.store.pipe_spool import PipeSpoolFailed, PipeSpoolUnsupported, spool_one

EX_OK = 0
EX_DATAERR = 65
EX_TEMPFAIL = 75


class NotStored(Exception):
    """The store could not take the message now; the mail server tries again later."""


class Refused(Exception):
    """The message can never be accepted; the reason goes to the sender's bounce."""


def read_message(stream: BinaryIO, max_bytes: int) -> bytes:
    """The message on STREAM; raises Refused when it is too large or no mail at all."""
    raw = stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise Refused(
            f"message too large: more than {max_bytes} bytes (the limit is "
            f"[ingest.smtp] max_message_bytes = {max_bytes})"
        )
    why = not_a_mail(raw)
    if why is not None:
        raise Refused(f"{why}; nothing was stored")
    return raw


def deliver(store_url: str, raw: bytes, sender: str | None, recipients: tuple[str, ...]) -> int:
    """Commit RAW to the spool at STORE_URL; returns its inbound id. Raises NotStored.

    Through the database driver alone (store.pipe_spool): this runs once per
    mail, and the ORM is most of a start's time. A URL that writer does not
    speak takes the ORM's way, with the same rows."""
    try:
        return spool_one(store_url, raw, via="mailgate", envelope_from=sender, recipients=recipients)
    except PipeSpoolFailed as error:
        raise NotStored(str(error)) from error
    except PipeSpoolUnsupported:
        pass
    from postdesk.receive.spool import Received, StoreUnavailable, spool_messages
    from postdesk.store.session import open_store

    try:
        store = open_store(store_url)
    except Exception as error:  # e.g. the database folder is missing
        raise NotStored(str(error)) from error
    try:
        return spool_messages(store, [Received(raw, "mailgate", sender, recipients)])[0]
    except StoreUnavailable as error:
        raise NotStored(str(error)) from error
    finally:
        store.dispose()


__all__ = ["EX_DATAERR", "EX_OK", "EX_TEMPFAIL", "NotStored", "Refused", "deliver", "read_message"]
