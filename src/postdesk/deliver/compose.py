"""Building outgoing mail. Every header value is made single-line before it
is written, so a customer's subject or name can never inject a header."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from email.charset import QP, Charset
from email.encoders import encode_base64
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr

from postdesk.core.mail import Attachment, Mail


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An outgoing mail, described; `render` turns it into bytes."""

    from_name: str
    from_address: str
    to_name: str
    to_address: str
    subject: str
    body: str
    message_id: str
    date: datetime
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    reply_to: str | None = None
    auto_submitted: str | None = None
    language: str | None = None
    # Files that go along (an agent's reply passes on the agent's attachments).
    attachments: tuple[Attachment, ...] = ()


def new_message_id(kind: str, domain: str) -> str:
    """A Message-ID (without brackets) that names what it is: ``ack.<random>@domain``."""
    return f"{kind}.{secrets.token_hex(10)}@{domain}"


def with_tag(subject: str, tag: str) -> str:
    """SUBJECT with "[TAG]" in it: an ops template that leaves it out still threads."""
    return subject if f"[{tag}]" in subject else f"[{tag}] {subject}"


def automatic_answer(
    mail: Mail,
    *,
    desk_name: str,
    desk_address: str,
    subject: str,
    body: str,
    kind: str,
    now: datetime,
    reply_to: str,
    language: str,
) -> Outgoing:
    """The desk's automatic answer to a customer's MAIL (acknowledgement, duplicate
    notice): threaded on it, marked auto-replied so the customer's own
    auto-responder stays quiet. MAIL must have a sender (the loop guard's rule)."""
    assert mail.from_ is not None
    return Outgoing(
        from_name=desk_name,
        from_address=desk_address,
        to_name=mail.from_.name,
        to_address=mail.from_.email,
        subject=subject,
        body=body,
        message_id=new_message_id(kind, desk_address.rpartition("@")[2]),
        date=now,
        in_reply_to=mail.message_id,
        references=(*mail.references, mail.message_id) if mail.message_id else mail.references,
        reply_to=reply_to,
        auto_submitted="auto-replied",
        language=language,
    )


# The email package's modern API (EmailMessage) parses every header value
# it is given back into a tree and folds it again: ~3 ms per mail, more than
# the rest of the acknowledgement. The legacy API below writes what it is
# handed, so every value is made single-line first: a customer's subject or
# name can still not inject a header.
_UTF8_HEADER = Charset("utf-8")
_UTF8_HEADER.header_encoding = QP
_OUTPUT = compat32.clone(linesep="\r\n", mangle_from_=False)  # no ">From " in the text
# RFC 5322's limit on a line; longer text lines go quoted-printable.
_MAX_LINE_BYTES = 998


def render(mail: Outgoing) -> bytes:
    message: MIMEBase = _text_part(mail.body)
    if mail.attachments:
        del message["MIME-Version"]
        text, message = message, MIMEMultipart("mixed")
        message.attach(text)
        for attachment in mail.attachments:
            message.attach(_attachment_part(attachment))
    message["From"] = _address(mail.from_name, mail.from_address)
    message["To"] = _address(mail.to_name, mail.to_address)
    message["Subject"] = _text_header(mail.subject)  # type: ignore[assignment]  # a Header is accepted
    message["Date"] = format_datetime(mail.date)
    message["Message-ID"] = f"<{_bare(mail.message_id)}>"
    if mail.in_reply_to:
        message["In-Reply-To"] = f"<{_bare(mail.in_reply_to)}>"
    if mail.references:
        message["References"] = " ".join(f"<{_bare(ref)}>" for ref in mail.references)
    if mail.reply_to:
        message["Reply-To"] = _address("", mail.reply_to)
    if mail.auto_submitted:
        message["Auto-Submitted"] = _bare(mail.auto_submitted)
        # Ask Exchange and friends not to answer our automatic mail either.
        message["X-Auto-Response-Suppress"] = "All"
    if mail.language:
        message["Content-Language"] = _bare(mail.language)
    return message.as_bytes(policy=_OUTPUT)


def _single_line(text: str) -> str:
    return " ".join(text.split())


def _bare(value: str) -> str:
    """VALUE without any whitespace: an address or Message-ID has none."""
    return "".join(value.split())


def _address(name: str, address: str) -> str:
    return formataddr((_single_line(name), _bare(address)), charset=_UTF8_HEADER)


def _text_header(text: str) -> str | Header:
    text = _single_line(text)
    return text if text.isascii() else Header(text, _UTF8_HEADER)


def _text_part(body: str) -> MIMEText:
    """The text as 7bit or 8bit where its lines allow, else quoted-printable."""
    charset = Charset("us-ascii" if body.isascii() else "utf-8")
    longest = max((len(line.encode()) for line in body.splitlines()), default=0)
    charset.body_encoding = QP if longest > _MAX_LINE_BYTES else None  # type: ignore[assignment]  # None: as is
    return MIMEText(body, "plain", charset)  # type: ignore[arg-type]  # a Charset is accepted


def _attachment_part(attachment: Attachment) -> MIMEBase:
    maintype, _, subtype = attachment.content_type.partition("/")
    if maintype in ("message", "multipart", "") or not subtype:
        # Parts of these types must hold a parsed message; as a file, the bytes go along intact.
        maintype, subtype = "application", "octet-stream"
    part = MIMEBase(maintype, subtype)
    del part["MIME-Version"]  # the outer message has it
    part.set_payload(attachment.data)
    encode_base64(part)
    filename = _single_line(attachment.filename)
    disposition = "inline" if attachment.inline else "attachment"
    if filename:
        # RFC 2231 for a name beyond ASCII: the form every mail client reads.
        part.add_header(
            "Content-Disposition",
            disposition,
            filename=filename if filename.isascii() else ("utf-8", "", filename),
        )
    else:
        part.add_header("Content-Disposition", disposition)
    if attachment.content_id:
        part["Content-ID"] = f"<{_bare(attachment.content_id)}>"
    return part
