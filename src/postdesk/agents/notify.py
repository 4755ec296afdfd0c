"""The notify-agents stage: the agents of a ticket's queue hear of each new
ticket and each customer reply, with their own reply address for the ticket."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postdesk.agents.mailing import ticket_tag
from postdesk.config.model import AgentSettings, Settings
from postdesk.parse.reply_text import split_reply
from postdesk.store.models import Message, Ticket, Voicemail
from postdesk.threads.tokens import AGENT, make_token, reply_address
from postdesk.tickets.files import StoredFile, message_files, pack
from postdesk.voicemail.callers import Hint


def agent_reply_address(settings: Settings, secret: bytes, ticket_id: int, agent: AgentSettings) -> str:
    """AGENT's own reply address for TICKET_ID: valid for that ticket and that agent only."""
    return reply_address(settings.desk.address, make_token(secret, ticket_id, AGENT, agent.email))


def notification_files(session: Session, settings: Settings, ticket: Ticket, message: Message) -> Enclosures:
    """MESSAGE's files, and which of them fit into the agent's notification ([agents] attach_max_bytes)."""
    files = message_files(session, ticket.id, message.id)
    packed = pack(files, settings.agent_mail.attach_max_bytes)
    return Enclosures(files=tuple(files), attached=packed.mails[0] if packed.mails else ())


def notification_context(
    session: Session,
    settings: Settings,
    secret: bytes,
    ticket: Ticket,
    message: Message,
    agent: AgentSettings,
    new: bool,
    enclosures: Enclosures,
    callers: Sequence[Hint] = (),
) -> dict[str, Any]:
    """What the agent_notification template is given (also used by `postdesk templates render`).

    CALLERS: whom the ticket's caller probably is, while nobody is confirmed (voicemail/callers.py)."""
    parts = split_reply(message.text)
    text = "\n\n".join(part for part in (parts.new_text, parts.signature) if part) or message.text.strip()
    return {
        "number": ticket.number,
        "tag": ticket_tag(settings, ticket.number),
        "event": "new" if new else "reply",
        "subject": ticket.subject,
        "customer": ticket.contact.email,
        "customer_name": ticket.contact.name,
        "status": ticket.status,
        "priority": ticket.priority,
        "queue": ticket.queue,
        "level": ticket.level,
        "assignee": ticket.assignee or "",
        "due": local_due(settings, ticket),
        "text": text,
        "attachments": [attachment.filename for attachment in message.attachments],
        "files": files_context(enclosures.files, enclosures.attached),
        "files_left_out": len(enclosures.attached) < len(enclosures.files),
        "voicemail": voicemail_context(session, message),
        "reply_address": agent_reply_address(settings, secret, ticket.id, agent),
        "callers": [hint.as_dict() for hint in callers],
    }


@dataclass(frozen=True, slots=True)
class Enclosures:
    """A message's files, and those of them that go along with the mail to the agent."""

    files: tuple[StoredFile, ...] = ()
    attached: tuple[StoredFile, ...] = ()


def files_context(files: Sequence[StoredFile], attached: Sequence[StoredFile]) -> list[dict[str, Any]]:
    """The files as a template lists them: number on the ticket, name, size, and whether attached."""
    going = {file.index for file in attached}
    return [
        {"number": f.index, "name": f.label, "size": size_text(f.size), "attached": f.index in going}
        for f in files
    ]


def voicemail_context(session: Session, message: Message) -> dict[str, str] | None:
    """Caller, number and length of MESSAGE's voicemail recording, for the agent who calls back."""
    call = session.execute(
        select(Voicemail).where(Voicemail.message_row_id == message.id)
    ).scalar_one_or_none()
    if call is None:
        return None
    seconds = call.duration_seconds
    return {
        "caller": call.caller_name or call.caller or "",
        "number": call.caller_number or "",
        "duration": f"{int(seconds) // 60}:{int(seconds) % 60:02d}" if seconds is not None else "",
    }


def size_text(size: int) -> str:
    """1234567 -> "1.2 MB": the size an agent reads, in decimal units as mail clients show them."""
    if size < 1000:
        return f"{size} bytes"
    value = size / 1000
    for unit in ("KB", "MB"):
        if value < 1000:
            return f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def local_due(settings: Settings, ticket: Ticket) -> str:
    due: datetime | None = ticket.first_response_due
    if due is None:
        return ""
    zone = settings.queue(ticket.queue).business_hours().timezone
    return f"{due.astimezone(zone):%Y-%m-%d %H:%M %Z}"
