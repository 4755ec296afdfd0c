"""The acknowledgement of a new ticket, built once for the mail and its preview.

The respond stage sends what `acknowledgement_mail` builds; `postdesk
templates render acknowledgement` shows what the same function builds from
the same stored mail, so a preview cannot drift from the real mail (it once
showed an agent's reply address where the customer's belonged).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from postdesk.config.model import Settings
from postdesk.core.mail import Attachment, Mail
from postdesk.deliver.compose import Outgoing, automatic_answer, with_tag
from postdesk.faq.index import FaqIndex
from postdesk.faq.suggest import Suggestion, find_suggestions
from postdesk.store.models import Ticket
from postdesk.templates.render import MailTemplates, quote_text
from postdesk.threads.tokens import make_token, reply_address
from postdesk.triage.response_times import TypicalWaits, expected_response

ACK_TEMPLATE = "acknowledgement"


def acknowledgement_mail(
    mail: Mail,
    ticket: Ticket,
    *,
    session: Session,
    settings: Settings,
    secret: bytes,
    templates: MailTemplates,
    now: datetime,
    faq: FaqIndex | None,
    waits: TypicalWaits | None = None,
    language: str | None = None,
) -> Outgoing:
    """The acknowledgement of MAIL, which opened TICKET, as the desk sends it at NOW.

    FAQ is the index suggestions come from (None: no suggestions); WAITS the
    worker's memo of typical waits; LANGUAGE overrides the ticket's (a preview's --lang).
    MAIL must have a sender (the loop guard's rule)."""
    assert mail.from_ is not None
    desk = settings.desk
    language = language or ticket.language
    tag = f"{desk.ticket_tag}{ticket.number}"
    reply_to = reply_address(desk.address, make_token(secret, ticket.id))
    rendered = templates.render(
        ACK_TEMPLATE,
        language,
        desk_name=desk.name,
        number=ticket.number,
        tag=tag,
        subject=mail.subject,
        customer_name=mail.from_.name,
        quoted=quote_text(mail.text, settings.replies.quote_chars),
        reply_address=reply_to,
        expected_response=expected_response(
            session,
            settings,
            queue=ticket.queue,
            priority=ticket.priority,
            now=now,
            language=language,
            cache=waits,
        ),
        faq=suggestions(mail, language, settings, faq),
        attachments=received_files(mail.attachments),
    )
    return automatic_answer(
        mail,
        desk_name=desk.name,
        desk_address=desk.address,
        subject=with_tag(rendered.subject, tag),
        body=rendered.body,
        kind="ack",
        now=now,
        reply_to=reply_to,
        language=language,
    )


def suggestions(
    mail: Mail, language: str, settings: Settings, faq: FaqIndex | None
) -> tuple[Suggestion, ...]:
    """FAQ entries that may already answer the mail (docs/faq.md); () when none is good enough."""
    if faq is None:
        return ()
    return find_suggestions(faq, mail.subject, mail.text, language, settings.faq)


def received_files(attachments: tuple[Attachment, ...]) -> list[dict[str, Any]]:
    """The files the customer sent, for "we have received …": name and size in bytes.

    Inline parts (a signature's logo, an embedded image) are part of the text,
    not files the customer means to send; a part without a name is listed by
    its type, so that nothing sent goes unmentioned."""
    return [
        {"name": part.filename or part.content_type, "size": part.size}
        for part in attachments
        if not part.inline
    ]
