"""The mail a known caller gets when their voicemail opened a new ticket."""

from __future__ import annotations

from datetime import datetime

from postdesk.config.model import Settings
from postdesk.deliver.compose import Outgoing, new_message_id
from postdesk.store.models import Contact, Ticket, Voicemail
from postdesk.templates.render import MailTemplates
from postdesk.threads.tokens import make_token, reply_address
from postdesk.voicemail.audio import clock
from postdesk.voicemail.numbers import display

VOICEMAIL_ACK = "voicemail_acknowledgement"


def voicemail_acknowledgement(
    ticket: Ticket,
    contact: Contact,
    voicemail: Voicemail,
    *,
    settings: Settings,
    templates: MailTemplates,
    secret: bytes,
    now: datetime,
) -> Outgoing:
    desk = settings.desk
    tag = f"{desk.ticket_tag}{ticket.number}"
    reply_to = reply_address(desk.address, make_token(secret, ticket.id))
    rendered = templates.render(
        VOICEMAIL_ACK,
        ticket.language,
        desk_name=desk.name,
        number=ticket.number,
        tag=tag,
        customer_name=contact.name,
        caller_number=display(voicemail.caller_number) if voicemail.caller_number else "",
        duration=clock(voicemail.duration_seconds),
        reply_address=reply_to,
    )
    subject = rendered.subject if f"[{tag}]" in rendered.subject else f"[{tag}] {rendered.subject}"
    return Outgoing(
        from_name=desk.name,
        from_address=desk.address,
        to_name=contact.name,
        to_address=contact.email,
        subject=subject,
        body=rendered.body,
        message_id=new_message_id("voicemail", desk.address.rpartition("@")[2]),
        date=now,
        reply_to=reply_to,
        # Nobody wrote to us by mail: this is generated, not a reply (RFC 3834).
        auto_submitted="auto-generated",
        language=ticket.language,
    )
