"""The learn-phones stage: phone numbers in a customer's signature, remembered for their voicemails."""

from __future__ import annotations

from dataclasses import replace

from postdesk.core.kinds import MailKind
from postdesk.core.work import Work
from postdesk.pipeline.env import StageEnv
from postdesk.tickets.record import contact_for
from postdesk.voicemail.phones import learn_phone
from postdesk.voicemail.signature import signature_numbers


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
