"""The voicemail stages of the pipeline.

- `recognise_voicemail` (after classify): is this a phone system's voicemail
  mail? Then who called, and which ticket the recording belongs on: the
  known caller's newest open ticket, an unknown number's open callback
  ticket, or a new one. A number only learned from signatures is unknown
  here: its contacts are the call's `probable` callers. It only reads;
  the store stage writes.
- `file_voicemail` (after store): the recording's length and problems, the
  `voicemails` row, the ticket's callback flag and priority, and the mail
  to a known caller whose voicemail opened a new ticket.
- `learn_phones` (after store): phone numbers in a customer's signature.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from postdesk.core.kinds import MailKind
from postdesk.core.mail import Address
from postdesk.core.work import Work
from postdesk.pipeline.env import StageEnv
from postdesk.store.models import Contact, Message, Ticket, Voicemail
from postdesk.voicemail.call import Call
from postdesk.voicemail.numbers import display
from postdesk.voicemail.phones import Lookup, lookup
from postdesk.voicemail.sources import active_sources, matching_source, read_call

# How a voicemail found its ticket (Message.threaded_by).
BY_CALLER = "voicemail_caller"
# Tickets a caller's voicemail is added to rather than opening a new one.
OPEN_STATUSES = ("open", "pending")
# Mail that is certainly not a phone system's notice, whatever its sender.
_NOT_VOICEMAIL = frozenset({MailKind.BOUNCE, MailKind.ABUSE_REPORT, MailKind.OWN_LOOP})


def recognise_voicemail(work: Work, env: StageEnv) -> Work:
    mail = work.mail
    assert mail is not None
    settings = env.settings.voicemail
    if not settings.enabled or work.kind in _NOT_VOICEMAIL:
        return work
    source = matching_source(mail, active_sources(settings))
    if source is None:
        return work
    call = read_call(mail, source, settings.default_region)
    found = lookup(env.session, call.number) if call.number else Lookup(None)
    contact = found.contact
    probable = tuple(c.id for c in found.probable)
    call = replace(call, contact_id=contact.id if contact else None, probable=probable)
    notes = work.note(f"kind voicemail: from {caller_label(call)} via {source.name}")
    if found.shared_by:
        notes = (*notes, f"caller unknown: number shared by {', '.join(found.shared_by)}")
    if found.probable:
        guesses = ", ".join(c.email for c in found.probable)
        notes = (*notes, f"caller not confirmed: number only learned from a signature, probably {guesses}")
    ticket_id = _callers_open_ticket(env, call)
    return replace(
        work.with_fact(call),
        kind=MailKind.VOICEMAIL.value,
        kind_reason=f"voicemail source {source.name}",
        urgent=work.urgent or call.urgent,
        customer=Address(email=contact.email, name=contact.name) if contact else None,
        ticket_id=ticket_id,
        threaded_by=BY_CALLER if ticket_id is not None else work.threaded_by,
        notes=notes,
    )


def caller_label(call: Call) -> str:
    """The caller's number for people, or what stands in for it."""
    return display(call.number) if call.number else call.number_text or "anonymous"


def callback_subject(call: Call, contact: Contact | None) -> str:
    """The subject of a ticket a voicemail opened: who called, and from which number."""
    who = call.name or (contact.name or contact.email if contact else "")
    number = caller_label(call)
    return f"Voicemail from {who} ({number})" if who else f"Voicemail from {number}"


def _callers_open_ticket(env: StageEnv, call: Call) -> int | None:
    """The newest open ticket of the caller, or of an unknown number that called before."""
    if call.contact_id is not None:
        query = select(Ticket.id).where(Ticket.contact_id == call.contact_id)
    elif call.number is not None:
        query = (
            select(Ticket.id)
            .join(Message, Message.ticket_id == Ticket.id)
            .join(Voicemail, Voicemail.message_row_id == Message.id)
            .where(Voicemail.caller_number == call.number, Voicemail.contact_id.is_(None))
        )
    else:
        return None  # anonymous: nothing ties two calls together
    query = query.where(Ticket.status.in_(OPEN_STATUSES)).order_by(Ticket.id.desc()).limit(1)
    return env.session.execute(query).scalar()
