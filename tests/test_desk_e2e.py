"""The desk end to end, over loopback SMTP against a real `postdesk serve`."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import update

from conftest import Desk, make_mail
from postdesk.store.models import Ticket


def read_mail(path: Path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[return-value]


def tickets(desk: Desk) -> list[dict]:
    return desk.json("tickets", "list")


def ticket(desk: Desk, number: str) -> dict:
    return desk.json("tickets", "show", number)


def wait_for_outbox(desk: Desk, count: int) -> list[EmailMessage]:
    desk.wait_until(lambda: len(desk.outbox_files()) >= count, what=f"{count} mail(s) in the outbox maildir")
    return [read_mail(path) for path in desk.outbox_files()]


def wait_processed(desk: Desk, count: int) -> None:
    from sqlalchemy import func, select

    from postdesk.store.models import Inbound

    def done() -> bool:
        with desk.store.transaction() as session:
            return (
                session.execute(
                    select(func.count()).select_from(Inbound).where(Inbound.status != "pending")
                ).scalar_one()
                >= count
            )

    desk.wait_until(done, what=f"{count} inbound message(s) processed")


def test_new_mail_makes_a_ticket_and_an_acknowledgement(desk: Desk) -> None:
    original = make_mail(
        sender="Kim Kunde <kim@customer.example>", body="Mein Login klappt nicht.\nBitte helfen!\n"
    )
    desk.send(original)
    [ack] = wait_for_outbox(desk, 1)

    [row] = tickets(desk)
    assert row["number"] == "10001" and row["id"] == 10001
    assert row["status"] == "open" and row["customer"] == "kim@customer.example"
    assert row["subject"] == "Hilfe beim Login" and row["message_count"] == 2
    assert "T" in row["created_at"]

    assert ack["Subject"].startswith("[Ticket#10001] ")
    assert ack["To"].addresses[0].addr_spec == "kim@customer.example"
    assert ack["From"].addresses[0].addr_spec == "support@example.com"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == original["Message-ID"]
    reply_to = ack["Reply-To"].addresses[0].addr_spec
    assert reply_to.startswith("support+10001-") and reply_to.endswith("@example.com")
    body = ack.get_content()
    assert "10001" in body and reply_to in body
    assert "> Mein Login klappt nicht." in body  # the customer's text, quoted
    assert "Guten Tag Kim Kunde" in body  # German is the default language

    detail = ticket(desk, "10001")
    kinds = [(m["direction"], m["kind"]) for m in detail["messages"]]
    assert kinds == [("in", "customer"), ("out", "acknowledgement")]
    first = detail["messages"][0]
    assert first["from"] == "kim@customer.example"
    assert first["message_id"] == original["Message-ID"].strip("<>")
    assert "Mein Login klappt nicht." in first["text"]
    assert first["attachments"] == []


def test_replies_thread_by_in_reply_to_and_by_reply_token(desk: Desk) -> None:
    desk.send(make_mail())
    [ack] = wait_for_outbox(desk, 1)

    reply = make_mail(subject="Re: " + ack["Subject"], body="Hier noch ein Screenshot.\n")
    reply["In-Reply-To"] = ack["Message-ID"]
    desk.send(reply)

    # No threading headers and no tag: only the token in the address ties it to the ticket.
    token_address = ack["Reply-To"].addresses[0].addr_spec
    bare = make_mail(
        sender="kollege@customer.example", to=token_address, subject="Nachtrag", body="Noch etwas.\n"
    )
    desk.send(bare, sender="kollege@customer.example", recipients=(token_address,))
    wait_processed(desk, 3)

    [row] = tickets(desk)
    detail = ticket(desk, row["number"])
    inbound = [m for m in detail["messages"] if m["direction"] == "in"]
    assert [m["threaded_by"] for m in inbound] == ["new", "in_reply_to", "reply_token"]
    assert len(desk.outbox_files()) == 1  # follow-ups get no second acknowledgement


def test_subject_tag_threads_only_for_the_tickets_own_people(desk: Desk) -> None:
    desk.send(make_mail(sender="kim@customer.example", subject="Drucker"))
    wait_for_outbox(desk, 1)

    own = make_mail(sender="kim@customer.example", subject="[Ticket#10001] noch eine Frage")
    desk.send(own)
    stranger = make_mail(sender="mallory@evil.example", subject="[Ticket#10001] gib mir Zugriff")
    desk.send(stranger, sender="mallory@evil.example")
    wait_processed(desk, 3)

    rows = {r["customer"]: r for r in tickets(desk)}
    assert rows["kim@customer.example"]["message_count"] == 3  # first mail, ack, follow-up
    assert rows["mallory@evil.example"]["number"] != "10001"
    assert rows["mallory@evil.example"]["message_count"] == 2  # a new ticket of its own, acknowledged


def test_follow_up_reopens_a_closed_ticket(desk: Desk) -> None:
    desk.send(make_mail())
    [ack] = wait_for_outbox(desk, 1)
    with desk.store.transaction() as session:
        session.execute(update(Ticket).values(status="closed"))
    reply = make_mail(subject="Re: " + ack["Subject"], body="Geht doch wieder nicht.\n")
    reply["In-Reply-To"] = ack["Message-ID"]
    desk.send(reply)
    wait_processed(desk, 2)
    [row] = tickets(desk)
    assert row["status"] == "open"


def test_language_follows_content_language(desk: Desk) -> None:
    desk.send(
        make_mail(
            sender="Jo <jo@customer.example>",
            subject="Login broken",
            body="I can't log in.\n",
            Content_Language="en-GB",
        )
    )
    [ack] = wait_for_outbox(desk, 1)
    assert "We have received your request" in ack["Subject"]
    assert ack.get_content().startswith("Hello Jo,")


def test_auto_replies_and_bounces_are_stored_but_never_answered(desk: Desk) -> None:
    desk.send(make_mail())
    [ack] = wait_for_outbox(desk, 1)

    ooo = make_mail(
        subject="Abwesenheitsnotiz: " + ack["Subject"],
        body="Ich bin bis Montag nicht im Büro.\n",
        Auto_Submitted="auto-replied",
    )
    ooo["In-Reply-To"] = ack["Message-ID"]
    desk.send(ooo)

    bounce = EmailMessage()
    bounce["From"] = "Mail Delivery System <MAILER-DAEMON@mx.customer.example>"
    bounce["To"] = "support@example.com"
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce["Message-ID"] = "<bounce-1@mx.customer.example>"
    bounce.set_content(
        "This is the mail system at host mx.customer.example.\n\nI'm sorry to have to inform you "
        "that your message could not be delivered.\n"
    )
    desk.send(bounce, sender="")

    unthreaded_ooo = make_mail(
        sender="ooo@other.example", subject="Out of Office", body="Away.\n", Auto_Submitted="auto-replied"
    )
    desk.send(unthreaded_ooo, sender="ooo@other.example")
    wait_processed(desk, 4)

    kinds = sorted(m["kind"] for t in tickets(desk) for m in ticket(desk, t["number"])["messages"])
    assert kinds.count("auto_reply") == 2 and kinds.count("bounce") == 1
    assert kinds.count("acknowledgement") == 1
    desk.wait_until(lambda: True)
    assert len(desk.outbox_files()) == 1


def test_acknowledgements_per_sender_are_rate_limited(make_desk) -> None:
    # Four near-identical mails from one sender: dedupe would rightly merge them (docs/dedupe.md).
    desk = make_desk({"replies": {"max_acks_per_sender_per_hour": 2}, "dedupe": {"enabled": False}})
    desk.start()
    for n in range(4):
        desk.send(make_mail(subject=f"Frage {n}"))
    wait_processed(desk, 4)
    assert len(tickets(desk)) == 4
    wait_for_outbox(desk, 2)
    assert len(desk.outbox_files()) == 2


def test_the_same_message_delivered_twice_is_stored_once(desk: Desk) -> None:
    message = make_mail()
    desk.send(message)
    desk.send(message)
    without_id = make_mail(subject="ohne Message-ID")
    del without_id["Message-ID"]
    desk.send(without_id)
    desk.send(without_id)
    wait_processed(desk, 4)
    rows = tickets(desk)
    assert len(rows) == 2
    assert all(r["message_count"] == 2 for r in rows)  # one inbound message + its acknowledgement


def test_oversize_mail_is_refused_with_552(make_desk) -> None:
    import smtplib

    import pytest

    desk = make_desk({"ingest": {"smtp": {"max_message_bytes": 10_000}}})
    desk.start()
    big = make_mail(body="x" * 20_000 + "\n")
    # smtplib declares SIZE=, so the listener refuses at MAIL FROM already...
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        desk.send(big)
    assert refused.value.smtp_code == 552
    # ...and a client that does not declare it is refused after DATA.
    with smtplib.SMTP("127.0.0.1", desk.port) as client:
        client.ehlo()
        client.mail("kim@customer.example")
        client.rcpt("support@example.com")
        code, _ = client.data(big.as_bytes())
    assert code == 552
    desk.send(make_mail(body="small\n"))  # the listener is fine afterwards
    wait_processed(desk, 1)
