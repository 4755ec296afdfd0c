"""The voicemail stages of the pipeline.

- `recognise_voicemail` (after classify): is this a phone system's voicemail
  mail? Then who called, and which ticket the recording belongs on: the
  known caller's newest open ticket, an unknown number's open callback
  ticket, or a new one. It only reads; the store stage writes.
- `file_voicemail` (after store): the recording's length and problems, the
  `voicemails` row, the ticket's callback flag and priority, and the mail
  to a known caller whose voicemail opened a new ticket.
- `learn_phones` (after store): phone numbers in a customer's signature.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from postdesk.ingest.classify import MailKind, is_daemon_address, is_own_address
from postdesk.mail import Address
from postdesk.replies.outbox import enqueue
from postdesk.stage import StageEnv, Work
from postdesk.store.models import Contact, Message, Ticket, Voicemail
from postdesk.store.record import contact_for
from postdesk.voicemail.audio import RecordingCheck, check_recording, clock, recording_index
from postdesk.voicemail.call import Call
from postdesk.voicemail.notify import VOICEMAIL_ACK, voicemail_acknowledgement
from postdesk.voicemail.numbers import display
from postdesk.voicemail.phones import Lookup, learn_phone, lookup
from postdesk.voicemail.signature import signature_numbers
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
    call = replace(call, contact_id=contact.id if contact else None)
    notes = work.note(f"kind voicemail: from {caller_label(call)} via {source.name}")
    if found.shared_by:
        notes = (*notes, f"caller unknown: number shared by {', '.join(found.shared_by)}")
    ticket_id = _callers_open_ticket(env, call)
    return replace(
        work,
        kind=MailKind.VOICEMAIL.value,
        kind_reason=f"voicemail source {source.name}",
        urgent=work.urgent or call.urgent,
        voicemail=call,
        customer=Address(email=contact.email, name=contact.name) if contact else None,
        ticket_id=ticket_id,
        threaded_by=BY_CALLER if ticket_id is not None else work.threaded_by,
        notes=notes,
    )


def file_voicemail(work: Work, env: StageEnv) -> Work:
    call, mail = work.voicemail, work.mail
    if call is None or mail is None or work.kind != MailKind.VOICEMAIL:
        return work
    session = env.session
    ticket = session.get_one(Ticket, work.ticket_id)
    message = session.get_one(Message, work.message_row_id)
    index = recording_index(mail.attachments)
    recording = mail.attachments[index] if index is not None else None
    check = check_recording(recording.data) if recording else RecordingCheck(None, "no recording attached")
    if check.problem:
        message.defects = [*message.defects, f"voicemail: {check.problem}"]
    seconds, measured_by = _duration(check, call)
    wants_text = bool(env.settings.voicemail.transcribe_command and recording and recording.data)
    voicemail = Voicemail(
        message_row_id=message.id,
        source=call.source,
        caller=call.caller,
        caller_number=call.number,
        caller_name=call.name,
        contact_id=call.contact_id,
        urgent=call.urgent,
        attachment_id=message.attachments[index].id if index is not None else None,
        duration_seconds=seconds,
        duration_from=measured_by,
        problem=check.problem,
        transcript_status="pending" if wants_text else "",
        created_at=env.now,
    )
    session.add(voicemail)
    ticket.callback = True
    if call.urgent:
        ticket.priority = "urgent"
    if ticket.status == "pending":
        ticket.status = "open"  # the customer got in touch: it is the desk's turn again
    flagged = f", flagged: {check.problem}" if check.problem else ""
    notes = work.note(f"recording {clock(seconds) or 'of unknown length'}{flagged}")
    contact = session.get(Contact, call.contact_id) if call.contact_id is not None else None
    if work.new_ticket:
        ticket.subject = callback_subject(call, contact)
        if contact is not None:
            ticket.language = _usual_language(env, contact, ticket)
            notes = _acknowledge(env, ticket, contact, voicemail, notes)
    session.flush()
    return replace(work, notes=notes)


def learn_phones(work: Work, env: StageEnv) -> Work:
    """Phone numbers in a customer's signature become the contact's learned numbers."""
    mail = work.mail
    settings = env.settings.voicemail
    if (
        work.kind != MailKind.CUSTOMER
        or mail is None
        or mail.from_ is None
        or not settings.learn_from_signatures
    ):
        return work
    numbers = signature_numbers(mail.text, settings.default_region)
    if not numbers:
        return work
    contact = contact_for(env.session, mail.from_, env.now)
    source = f"signature of message {work.message_row_id}"
    outcomes = {number: learn_phone(env.session, contact, number, source, env.now) for number in numbers}
    news = [f"{number} ({outcome})" for number, outcome in outcomes.items() if outcome != "known"]
    return replace(work, notes=work.note(f"phone learned: {', '.join(news)}")) if news else work


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


def _duration(check: RecordingCheck, call: Call) -> tuple[float | None, str]:
    if check.seconds is not None:
        return check.seconds, "audio"
    if call.text_seconds is not None:
        return call.text_seconds, "text"
    return None, ""


def _usual_language(env: StageEnv, contact: Contact, ticket: Ticket) -> str:
    """The language of the contact's previous ticket: the phone system's mail says nothing about it."""
    earlier = env.session.execute(
        select(Ticket.language)
        .where(Ticket.contact_id == contact.id, Ticket.id != ticket.id)
        .order_by(Ticket.id.desc())
        .limit(1)
    ).scalar()
    return earlier or ticket.language


def _acknowledge(
    env: StageEnv, ticket: Ticket, contact: Contact, voicemail: Voicemail, notes: tuple[str, ...]
) -> tuple[str, ...]:
    if not env.settings.replies.acknowledge:
        return notes
    if is_own_address(contact.email, env.settings.own_addresses) or is_daemon_address(contact.email):
        return (*notes, f"no voicemail acknowledgement: {contact.email} is a mail system address")
    enqueue(
        env.session,
        voicemail_acknowledgement(ticket, contact, voicemail, env),
        ticket_id=ticket.id,
        kind=VOICEMAIL_ACK,
        envelope_from=env.settings.outbound.envelope_from or env.settings.desk.address,
        now=env.now,
    )
    return (*notes, "voicemail acknowledgement queued")
