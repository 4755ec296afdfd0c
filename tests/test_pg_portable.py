"""What PostgreSQL refuses that SQLite takes: the pipeline stores the same
thing on both."""

from __future__ import annotations

from sqlalchemy import select

from conftest import Desk
from postdesk.ingest.parse import NUL_DEFECT, parse_mail
from postdesk.store.models import Inbound, Message

WITH_NUL = (
    b"From: Kim\x00 Kunde <kim@customer.example>\r\n"
    b"To: support@example.com\r\n"
    b"Subject: Fehler\x00 im Export\r\n"
    b"Message-ID: <nul-1@customer.example>\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"Der Export enth=C3=A4lt =00 mitten im Text.\r\n"
)


def test_nul_characters_are_replaced_and_flagged() -> None:
    mail = parse_mail(WITH_NUL)
    assert mail.subject == "Fehler\ufffd im Export"
    assert "enthält \ufffd mitten" in mail.text
    assert mail.from_ is not None and mail.from_.name == "Kim\ufffd Kunde"
    assert NUL_DEFECT in mail.defects
    assert NUL_DEFECT not in parse_mail(WITH_NUL.replace(b"\x00", b"").replace(b"=00", b"")).defects


def test_a_mail_with_nul_characters_becomes_a_ticket(desk: Desk) -> None:
    desk.send(WITH_NUL)

    def stored() -> Message | None:
        with desk.store.read() as session:
            return session.execute(select(Message).where(Message.direction == "in")).scalar_one_or_none()

    message = desk.wait_until(stored, what="the message to be stored")
    assert message.subject == "Fehler\ufffd im Export"
    assert NUL_DEFECT in message.defects
    with desk.store.read() as session:
        assert session.execute(select(Inbound.status)).scalars().all() == ["done"]
