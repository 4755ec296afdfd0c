"""The voicemail-file stage: the recording's length and problems, the callback flag,
the mail to a known caller, the probable callers a guessed number names."""

from __future__ import annotations

from dataclasses import replace

from postdesk.classify.kind import is_daemon_address, is_own_address
from postdesk.core.kinds import MailKind
from postdesk.core.work import Work
from postdesk.deliver.limits import customer_limits, enqueue_limited
from postdesk.pipeline.env import StageEnv
from postdesk.pipeline.stages.voicemail import (
    callback_subject,
)
from postdesk.store.models import Contact, Message, Ticket, Voicemail
from postdesk.voicemail.audio import RecordingCheck, check_recording, clock, recording_index
from postdesk.voicemail.call import Call
from postdesk.voicemail.callers import add_hints, usual_language
from postdesk.voicemail.notify import VOICEMAIL_ACK, voicemail_acknowledgement


def file_voicemail(work: Work, env: StageEnv) -> Work:
    call, mail = work.fact(Call), work.mail
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
            ticket.language = usual_language(session, contact, ticket)
            notes = _acknowledge(env, ticket, contact, voicemail, notes)
    if call.probable and call.number is not None:
        add_hints(session, ticket.id, call.number, call.probable, env.now)
        notes = (*notes, "nothing mailed to the probable caller until an agent confirms them")
    session.flush()
    return replace(work, notes=notes)


def _duration(check: RecordingCheck, call: Call) -> tuple[float | None, str]:
    if check.seconds is not None:
        return check.seconds, "audio"
    if call.text_seconds is not None:
        return call.text_seconds, "text"
    return None, ""


def _acknowledge(
    env: StageEnv, ticket: Ticket, contact: Contact, voicemail: Voicemail, notes: tuple[str, ...]
) -> tuple[str, ...]:
    if not env.settings.replies.acknowledge:
        return notes
    if is_own_address(contact.email, env.settings.own_addresses) or is_daemon_address(contact.email):
        return (*notes, f"no voicemail acknowledgement: {contact.email} is a mail system address")
    held = enqueue_limited(
        env.session,
        voicemail_acknowledgement(
            ticket,
            contact,
            voicemail,
            settings=env.settings,
            templates=env.templates,
            secret=env.secret,
            now=env.now,
        ),
        customer_limits(env.settings.replies),
        env.metrics,
        ticket_id=ticket.id,
        kind=VOICEMAIL_ACK,
        envelope_from=env.settings.outbound.envelope_from or env.settings.desk.address,
        now=env.now,
    )
    if held is not None:
        return (*notes, f"voicemail acknowledgement held: limit {held.name} reached")
    return (*notes, "voicemail acknowledgement queued")
