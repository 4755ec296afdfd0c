"""Agents by email, end to end over SMTP: notifications, replies, commands, forged mail."""

from __future__ import annotations

import pytest

from agents_support import ANNA, BERT, KIM, kinds, mail_to, messages, processed, reply_to, start_agent_desk, ticket, wait_mail_to
from conftest import make_mail


@pytest.fixture
def agent_desk(make_desk):
    return start_agent_desk(make_desk())


def open_ticket(desk, subject: str = "Passwort vergessen", sender: str = f"Kim Kunde <{KIM}>"):
    customer_mail = make_mail(sender=sender, subject=subject, body="Ich komme nicht mehr in mein Konto.\nKim\n")
    desk.send(customer_mail, sender=sender.split("<")[-1].strip(">"))
    [notification] = wait_mail_to(desk, ANNA)
    return customer_mail, notification


def test_agent_reply_reaches_the_customer_from_the_desk_threaded_without_quote_or_signature(agent_desk) -> None:
    customer_mail, notification = open_ticket(agent_desk)
    assert "support+10001-a" in notification["Reply-To"]
    assert "Ich komme nicht mehr in mein Konto." in notification.get_content()
    assert "[Ticket#10001]" in notification["Subject"]
    reply = reply_to(
        notification,
        "Hallo Kim,\n\nich habe Ihr Passwort zurückgesetzt.\n\nViele Grüße\nAnna\n-- \nAnna Agentin\nTel. +49 30 1234567",
    )
    reply.add_attachment(b"%PDF-1.4 anleitung", maintype="application", subtype="pdf", filename="anleitung.pdf")
    agent_desk.send(reply, sender=ANNA, recipients=(notification["Reply-To"],))
    answer = agent_desk.wait_until(
        lambda: [m for m in mail_to(agent_desk, KIM) if "zurückgesetzt" in m.as_string() or m.get("Auto-Submitted") is None],
        what="the agent's answer to the customer",
    )[0]
    raw = answer.as_bytes()
    assert b"anna@example.com" not in raw.lower()
    assert answer["From"].addresses[0].addr_spec == "support@example.com"
    assert answer["In-Reply-To"] == customer_mail["Message-ID"]
    assert customer_mail["Message-ID"] in answer["References"]
    assert "[Ticket#10001]" in answer["Subject"] and "support+10001-c" in answer["Reply-To"]
    body = answer.get_body(("plain",)).get_content()
    assert "ich habe Ihr Passwort zurückgesetzt." in body
    assert "Tel. +49" not in body and "> " not in body and "schrieb" not in body
    [attached] = list(answer.iter_attachments())
    assert attached.get_filename() == "anleitung.pdf" and attached.get_content() == b"%PDF-1.4 anleitung"
    stored = [m for m in messages(agent_desk, 10001) if m["kind"] == "agent"]
    assert stored and "Tel." not in stored[0]["text"] and "schrieb" not in stored[0]["text"]
    # Agents never get an acknowledgement; Bert (level 2) heard nothing of a level-1 ticket.
    assert all(m.get("Auto-Submitted") != "auto-replied" for m in mail_to(agent_desk, ANNA))
    assert mail_to(agent_desk, BERT) == []


def test_a_note_reaches_no_customer(agent_desk) -> None:
    _, notification = open_ticket(agent_desk)
    agent_desk.send(
        reply_to(notification, "#note\nKunde ist VIP, bitte bevorzugt behandeln."),
        sender=ANNA,
        recipients=(notification["Reply-To"],),
    )
    processed(agent_desk, 2)
    assert [m["Subject"] for m in mail_to(agent_desk, KIM)] == [mail_to(agent_desk, KIM)[0]["Subject"]]
    [note] = [m for m in messages(agent_desk, 10001) if m["kind"] == "agent_note"]
    assert note["text"] == "Kunde ist VIP, bitte bevorzugt behandeln."
