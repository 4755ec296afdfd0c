"""Building outgoing mail. Every header goes through the email library's
header objects, so a customer's subject or name can never inject a header."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from postdesk.mail import Attachment, Mail


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


def _header_address(name: str, address: str) -> HeaderAddress:
    local, _, domain = address.rpartition("@")
    # Strip line breaks from display names: the header policy would encode
    # them anyway, but a name is one line in every mail client.
    return HeaderAddress(display_name=" ".join(name.split()), username=local, domain=domain)


def _single_line(text: str) -> str:
    return " ".join(text.split())


def render(mail: Outgoing) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = _header_address(mail.from_name, mail.from_address)
    message["To"] = _header_address(mail.to_name, mail.to_address)
    message["Subject"] = _single_line(mail.subject)
    message["Date"] = format_datetime(mail.date)
    message["Message-ID"] = f"<{mail.message_id}>"
    if mail.in_reply_to:
        message["In-Reply-To"] = f"<{mail.in_reply_to}>"
    if mail.references:
        message["References"] = " ".join(f"<{ref}>" for ref in mail.references)
    if mail.reply_to:
        message["Reply-To"] = _header_address("", mail.reply_to)
    if mail.auto_submitted:
        message["Auto-Submitted"] = mail.auto_submitted
        # Ask Exchange and friends not to answer our automatic mail either.
        message["X-Auto-Response-Suppress"] = "All"
    if mail.language:
        message["Content-Language"] = mail.language
    message.set_content(mail.body, charset="utf-8")
    for attachment in mail.attachments:
        _attach(message, attachment)
    return message.as_bytes()


def _attach(message: EmailMessage, attachment: Attachment) -> None:
    maintype, _, subtype = attachment.content_type.partition("/")
    if maintype in ("message", "multipart", "") or not subtype:
        # The email library wants a parsed message for these; as a file, the bytes go along intact.
        maintype, subtype = "application", "octet-stream"
    message.add_attachment(
        attachment.data,
        maintype=maintype,
        subtype=subtype,
        filename=" ".join(attachment.filename.split()) or None,
        disposition="inline" if attachment.inline else "attachment",
        cid=f"<{attachment.content_id}>" if attachment.content_id else None,
    )
