"""Queueing outgoing mail: a message on the ticket and an outbox row, in the
caller's transaction, so a mail is queued exactly when its cause is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from postdesk.core.mail import domain_of, mailbox_of
from postdesk.deliver.compose import Outgoing, render
from postdesk.store.models import Message, Outbox
from postdesk.store.rows import insert_row


def enqueue(
    session: Session,
    mail: Outgoing,
    *,
    ticket_id: int | None,
    kind: str,
    envelope_from: str,
    now: datetime,
    held_by: str | None = None,
) -> int | None:
    """Record MAIL on the ticket and queue it for delivery; returns the message row's id.

    Without a ticket (a mail that concerns none, such as the how-to-reply
    note to an agent) only the outbox row is written, and None returned.
    HELD_BY names the limit that keeps it back (deliver/limits.py): the row
    is then ``held`` and goes out only when released.
    """
    message_row_id = None
    if ticket_id is not None:
        message_row_id = insert_row(
            session,
            Message,
            {
                "ticket_id": ticket_id,
                "direction": "out",
                "kind": kind,
                "message_id": mail.message_id,
                "from_email": mail.from_address,
                "from_name": mail.from_name,
                "to_email": mail.to_address.lower(),
                "cc": [],
                "subject": mail.subject,
                "text": mail.body,
                "sent_at": mail.date,
                "created_at": now,
                "in_reply_to": mail.in_reply_to,
                "references": list(mail.references),
                "defects": [],
                "threaded_by": "out",
            },
        )
    insert_row(
        session,
        Outbox,
        {
            "ticket_id": ticket_id,
            "message_row_id": message_row_id,
            "kind": kind,
            "message_id": mail.message_id,
            "envelope_from": envelope_from,
            "recipients": [mail.to_address],
            "raw": render(mail),
            "status": "held" if held_by else "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "to_mailbox": mailbox_of(mail.to_address),
            "to_domain": domain_of(mail.to_address),
            "held_by": held_by,
        },
    )
    return message_row_id
