"""The bounce stage: a delivery report for a mail the desk sent.

The report names the returned mail's Message-ID: in its message/rfc822 or
text/rfc822-headers part (RFC 3464), or, from mail systems that return the
message as text, somewhere in the body. The outbox row of that mail is
marked failed with the report's status code, the bounce is filed on that
mail's ticket (never a new one), and the ticket's agents are told. Nothing
is sent to the bounce itself (the respond stage never answers bounces).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from email.parser import BytesHeaderParser
from email.policy import compat32

from sqlalchemy import select

from postdesk.agents.directory import agents_to_notify
from postdesk.agents.mailing import BOUNCE_NOTICE_KIND, mail_agent, ticket_tag
from postdesk.core.kinds import MailKind
from postdesk.core.mail import Mail
from postdesk.core.work import Work
from postdesk.pipeline.env import StageEnv
from postdesk.store.models import Message, Outbox, Ticket

RETURNED_PARTS = frozenset({"message/rfc822", "text/rfc822-headers", "message/rfc822-headers"})
_MESSAGE_ID_FIELD = re.compile(
    r"^\s*message-id:\s*<?([^\s<>]+@[^\s<>]+?)>?\s*$", re.IGNORECASE | re.MULTILINE
)
_ANY_ID = re.compile(r"<([^\s<>@]+@[^\s<>]+)>")
_ENHANCED = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_REPLY_CODE = re.compile(r"\b([45][0-5]\d)[ -]")
# Report fields to read; a Diagnostic-Code may continue on indented lines.
_FIELD = re.compile(r"^(status|diagnostic-code|action|final-recipient):\s*(.*(?:\n[ \t]+.*)*)", re.I | re.M)
MAX_CANDIDATES = 200


@dataclass(frozen=True, slots=True)
class BounceFacts:
    """What a delivery report says about the failed mail."""

    status: str  # "5.1.1", an SMTP reply code, or "unknown"
    diagnostic: str
    recipient: str


def attach_bounce(work: Work, env: StageEnv) -> Work:
    mail = work.mail
    if work.kind != MailKind.BOUNCE or mail is None:
        return work
    row = _outbox_row_named(env, mail)
    if row is None:
        return replace(work, notes=work.note("bounce: names no mail the desk sent"))
    facts = bounce_facts(mail)
    row.status = "failed"
    row.lease_until = None
    row.last_error = f"bounced: {facts.status}" + (f" {facts.diagnostic}" if facts.diagnostic else "")
    row.last_error = row.last_error[:2000]
    note = f"bounce of outbox {row.id} ({row.kind}): {facts.status}"
    if row.ticket_id is None:
        return replace(work, notes=work.note(note))
    _tell_agents(env, row, facts)
    return replace(work, ticket_id=row.ticket_id, threaded_by="bounce", notes=work.note(note))


def returned_message_ids(mail: Mail) -> list[str]:
    """Message-IDs the report may refer to, the likeliest first (the returned part's own header).

    The report's own Message-ID comes last: some mail systems give their
    report the returned mail's id, and it can only match mail we sent.
    """
    found: dict[str, None] = {}
    for candidate in _candidates(mail):
        if candidate != mail.message_id:
            found.setdefault(candidate, None)
        if len(found) >= MAX_CANDIDATES:
            break
    if mail.message_id:
        found.setdefault(mail.message_id, None)
    return list(found)


def _candidates(mail: Mail) -> Iterator[str]:
    returned = [a for a in mail.attachments if a.content_type in RETURNED_PARTS]
    for part in returned:
        headers = BytesHeaderParser(policy=compat32).parsebytes(part.data)
        value = str(headers.get("message-id", "")).strip()
        if value:
            yield value.strip("<>")
    texts = [
        mail.text,
        *(a.data.decode("utf-8", "replace") for a in mail.attachments if _textual(a.content_type)),
    ]
    for text in texts:
        yield from (match[1] for match in _MESSAGE_ID_FIELD.finditer(text))
    for text in texts:
        yield from (match[1] for match in _ANY_ID.finditer(text))


def _textual(content_type: str) -> bool:
    return content_type.startswith("text/") or content_type.startswith("message/")


def _outbox_row_named(env: StageEnv, mail: Mail) -> Outbox | None:
    wanted = returned_message_ids(mail)
    if not wanted:
        return None
    rows = env.session.execute(select(Outbox).where(Outbox.message_id.in_(wanted))).scalars().all()
    by_id = {row.message_id: row for row in rows}
    return next((by_id[message_id] for message_id in wanted if message_id in by_id), None)


def bounce_facts(mail: Mail) -> BounceFacts:
    """Status code, diagnostic and recipient: from the delivery-status part, else the text."""
    report = next((a for a in mail.attachments if a.content_type == "message/delivery-status"), None)
    fields: dict[str, str] = {}
    if report is not None:
        for match in _FIELD.finditer(report.data.decode("utf-8", "replace")):
            fields.setdefault(match[1].lower(), " ".join(match[2].split()))
    text = mail.text
    status = fields.get("status", "").split(" ")[0]
    if not _ENHANCED.fullmatch(status):
        found = _ENHANCED.search(text) or _REPLY_CODE.search(text)
        status = found[1] if found else "unknown"
    diagnostic = fields.get("diagnostic-code", "").partition(";")[2].strip() or fields.get(
        "diagnostic-code", ""
    )
    recipient = fields.get("final-recipient", "").partition(";")[2].strip()
    return BounceFacts(status=status, diagnostic=diagnostic[:500], recipient=recipient)


def _tell_agents(env: StageEnv, row: Outbox, facts: BounceFacts) -> None:
    assert row.ticket_id is not None
    ticket = env.session.get_one(Ticket, row.ticket_id)
    bounced = env.session.get(Message, row.message_row_id) if row.message_row_id else None
    # An agent whose own address bounced would not get the notice either.
    for agent in agents_to_notify(env.settings, ticket, exclude=row.recipients):
        mail_agent(
            env.session,
            env.settings,
            env.templates,
            agent,
            template="bounce_notice",
            kind=BOUNCE_NOTICE_KIND,
            ticket_id=ticket.id,
            now=env.now,
            number=ticket.number,
            tag=ticket_tag(env.settings, ticket.number),
            subject=ticket.subject,
            recipient=", ".join(row.recipients),
            status_code=facts.status,
            diagnostic=facts.diagnostic,
            bounced_kind=row.kind,
            bounced_subject=bounced.subject if bounced else "",
        )
