"""Helpers for the agent mail tests: a desk with agents, the mail it wrote, and agents replying."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from sqlalchemy import func, select

from conftest import Desk
from postdesk.store.models import Inbound, Message, Outbox, Ticket
from triage_support import configure

AGENTS = """
[[queues]]
name = "support"
addresses = ["support@example.com"]

[[queues]]
name = "billing"
addresses = ["billing@example.com"]

[[agents]]
email = "anna@example.com"
name = "Anna"
queues = ["support"]
level = 1

[[agents]]
email = "bert@example.com"
name = "Bert"
queues = ["support", "billing"]
level = 2
"""

ANNA = "anna@example.com"
BERT = "bert@example.com"
KIM = "kim@customer.example"


def start_agent_desk(desk: Desk, extra: str = "", agents: str = AGENTS) -> Desk:
    configure(desk, agents + extra)
    desk.start()
    return desk


def sent_mail(desk: Desk) -> list[EmailMessage]:
    """Every mail the desk wrote into its outbox maildir, oldest first."""
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for path in desk.outbox_files()
    ]


def mail_to(desk: Desk, address: str) -> list[EmailMessage]:
    return [m for m in sent_mail(desk) if address in str(m["To"])]


def wait_mail_to(desk: Desk, address: str, count: int = 1) -> list[EmailMessage]:
    return desk.wait_until(
        lambda: (found := mail_to(desk, address)) and len(found) >= count and found,
        what=f"{count} mail(s) to {address}",
    )


def processed(desk: Desk, count: int) -> None:
    """Wait until COUNT received mails are processed and every queued mail is written out."""

    def done() -> bool:
        with desk.store.read() as session:
            finished = session.execute(
                select(func.count()).select_from(Inbound).where(Inbound.status != "pending")
            ).scalar_one()
            waiting = session.execute(
                select(func.count()).select_from(Outbox).where(Outbox.status.in_(["pending", "sending"]))
            ).scalar_one()
        return finished >= count and waiting == 0

    desk.wait_until(done, what=f"{count} processed mails and an empty outbox queue")


def reply_to(
    notification: EmailMessage, body: str, sender: str = f"Anna <{ANNA}>", **headers: str
) -> EmailMessage:
    """An agent's reply to NOTIFICATION as a mail client writes it: quoting the notification below."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = notification["Reply-To"]
    reply["Subject"] = "Re: " + str(notification["Subject"])
    reply["Message-ID"] = make_msgid(domain="example.com")
    reply["In-Reply-To"] = notification["Message-ID"]
    reply["References"] = notification["Message-ID"]
    text = (notification.get_body(("plain",)) or notification).get_content()  # files may go along
    quoted = "\n".join(f"> {line}" for line in text.splitlines())
    reply.set_content(
        f"{body}\n\nAm 23.11.2026 um 10:00 schrieb Example Support <support@example.com>:\n{quoted}\n"
    )
    for name, value in headers.items():
        reply[name.replace("_", "-")] = value
    return reply


def ticket(desk: Desk, number: int) -> Ticket:
    with desk.store.read() as session:
        found = session.get_one(Ticket, number)
        session.expunge(found)
        return found


def messages(desk: Desk, number: int) -> list[dict[str, Any]]:
    with desk.store.read() as session:
        rows = session.execute(
            select(Message).where(Message.ticket_id == number).order_by(Message.id)
        ).scalars()
        return [
            {
                "kind": m.kind,
                "direction": m.direction,
                "from": m.from_email,
                "to": m.to_email,
                "text": m.text,
                "defects": m.defects,
            }
            for m in rows
        ]


def kinds(desk: Desk, number: int) -> list[str]:
    return [m["kind"] for m in messages(desk, number)]
