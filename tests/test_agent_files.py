"""Agents get the files: notifications carry the customer's attachments and voicemail
recordings, `#files` mails them to the asking agent alone, and an operator saves them
with `postdesk tickets attachment`. End to end over SMTP into a real `postdesk serve`."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from agents_support import ANNA, BERT, KIM, mail_to, processed, reply_to, start_agent_desk, wait_mail_to
from conftest import Desk, make_mail
from corpus import corpus_file
from voicemail_support import asterisk_mail, wav_bytes


def corpus_pdf() -> bytes:
    """A real PDF a customer sent: the CV attached to a mail of the Zammad corpus (skips without it)."""
    raw = corpus_file("zammad/test/data/mail/mail028.box").read_bytes()
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    [pdf] = [p for p in mail.iter_attachments() if p.get_filename() == "Lebenslauf.pdf"]  # type: ignore[attr-defined]
    return pdf.get_content()


def files_of(mail: EmailMessage) -> dict[str, bytes]:
    return {
        part.get_filename() or "": part.get_content()
        for part in mail.iter_attachments()  # type: ignore[attr-defined]
    }


def customer_mail_with(files: dict[str, tuple[str, bytes]], subject: str = "Rechnung falsch") -> EmailMessage:
    mail = make_mail(
        sender=f"Kim Kunde <{KIM}>", subject=subject, body="Die Rechnung im Anhang stimmt nicht.\n"
    )
    for name, (content_type, data) in files.items():
        maintype, subtype = content_type.split("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return mail


@pytest.fixture
def agent_desk(make_desk) -> Desk:
    return start_agent_desk(make_desk())


def test_the_notification_carries_the_customers_files_and_the_acknowledgement_does_not(agent_desk) -> None:
    pdf = corpus_pdf()
    agent_desk.send(customer_mail_with({"rechnung.pdf": ("application/pdf", pdf)}), sender=KIM)
    [notification] = wait_mail_to(agent_desk, ANNA)
    assert files_of(notification) == {"rechnung.pdf": pdf}
    assert "1. rechnung.pdf" in notification.get_body().get_content()  # type: ignore[union-attr]
    assert "angehängt" in notification.get_body().get_content()  # type: ignore[union-attr]
    processed(agent_desk, 1)
    [acknowledgement] = mail_to(agent_desk, KIM)
    assert files_of(acknowledgement) == {}, "a customer's files never go back out to a customer"


def test_files_over_the_limit_are_listed_with_sizes_and_sent_on_request_to_that_agent_only(make_desk) -> None:
    desk = start_agent_desk(make_desk(), extra="\n[agent_mail]\nattach_max_bytes = 50000\n")
    small, large = b"%PDF-1.4 small" * 10, bytes(range(256)) * 400  # 140 bytes, 102,400 bytes
    mail = customer_mail_with(
        {"klein.pdf": ("application/pdf", small), "gross.bin": ("application/octet-stream", large)}
    )
    desk.send(mail, sender=KIM)
    [notification] = wait_mail_to(desk, ANNA)
    assert files_of(notification) == {"klein.pdf": small}
    text = notification.get_body().get_content()  # type: ignore[union-attr]
    assert "2. gross.bin (102.4 KB), nicht angehängt" in text and "#files" in text

    desk.send(reply_to(notification, "#files"), sender=ANNA, recipients=(notification["Reply-To"],))
    processed(desk, 2)
    [files_mail] = [m for m in mail_to(desk, ANNA) if "Dateien zu Ticket" in str(m["Subject"])]
    # 102,400 bytes are over this desk's 50,000, but #files sends mails of at least 1 MB.
    assert files_of(files_mail) == {"klein.pdf": small, "gross.bin": large}
    assert str(files_mail["To"]).endswith(f"<{ANNA}>") and files_mail["Reply-To"] == notification["Reply-To"]
    assert not [m for m in mail_to(desk, BERT) if "Dateien zu Ticket" in str(m["Subject"])]
    assert len(mail_to(desk, KIM)) == 1, "the customer gets the acknowledgement and nothing of #files"


def test_files_ask_from_a_customer_or_a_forged_agent_gets_no_files(agent_desk) -> None:
    agent_desk.send(customer_mail_with({"geheim.pdf": ("application/pdf", b"%PDF-1.4 geheim")}), sender=KIM)
    [notification] = wait_mail_to(agent_desk, ANNA)
    processed(agent_desk, 1)
    [acknowledgement] = mail_to(agent_desk, KIM)
    # The customer answers their acknowledgement with "#files": a customer's text, not a command.
    customer_reply = make_mail(
        sender=f"Kim Kunde <{KIM}>", subject="Re: " + str(acknowledgement["Subject"]), body="#files\n"
    )
    customer_reply["In-Reply-To"] = acknowledgement["Message-ID"]
    agent_desk.send(customer_reply, sender=KIM, recipients=(str(acknowledgement["Reply-To"]),))
    # A stranger writes "as Anna" to the plain desk address, without her reply token.
    forged = reply_to(notification, "#files", sender=f"Anna <{ANNA}>")
    del forged["To"]
    forged["To"] = "support@example.com"
    agent_desk.send(forged, sender="attacker@evil.example", recipients=("support@example.com",))
    processed(agent_desk, 3)
    with_files = [str(m["To"]) for m in mail_to(agent_desk, "@") if files_of(m)]
    # The one notification per agent of the first mail; nothing for Kim, nothing for the attacker.
    assert sorted(with_files) == sorted({str(m["To"]) for m in mail_to(agent_desk, "@") if files_of(m)})
    assert [to for to in with_files if ANNA in to] == [str(notification["To"])]
    assert not [to for to in with_files if KIM in to or "evil.example" in to]


def test_a_voicemail_notification_says_who_called_and_carries_the_recording(agent_desk) -> None:
    recording = wav_bytes(7)
    agent_desk.send(
        asterisk_mail(number="0301234567", name="Kim Kunde", audio=recording),
        sender="asterisk@pbx.example.com",
    )
    [notification] = wait_mail_to(agent_desk, ANNA)
    text = notification.get_body().get_content()  # type: ignore[union-attr]
    assert "Eine Sprachnachricht: Kim Kunde, +49301234567, 0:07 min." in text
    assert files_of(notification) == {"msg0000.wav": recording}


def test_an_operator_lists_and_saves_a_tickets_files_without_escaping_the_folder(
    agent_desk, tmp_path: Path
) -> None:
    pdf = corpus_pdf()
    files = {
        "rechnung.pdf": ("application/pdf", pdf),
        "../../evil.sh": ("text/x-sh", b"#!/bin/sh\nrm -rf /\n"),
    }
    agent_desk.send(customer_mail_with(files), sender=KIM)
    processed(agent_desk, 1)
    listed = agent_desk.json("tickets", "attachment", "10001")
    assert [(row["index"], row["size"]) for row in listed] == [(1, len(pdf)), (2, 19)]
    out = tmp_path / "saved"
    agent_desk.run("tickets", "attachment", "10001", "--out", str(out))
    agent_desk.run("tickets", "attachment", "10001", "1", "--out", str(out))
    assert sorted(p.name for p in out.iterdir()) == ["evil.sh", "rechnung (2).pdf", "rechnung.pdf"]
    assert (out / "rechnung.pdf").read_bytes() == pdf == (out / "rechnung (2).pdf").read_bytes()
    assert not (tmp_path / "evil.sh").exists() and oct((out / "evil.sh").stat().st_mode & 0o777) == "0o600"
    missing = agent_desk.run("tickets", "attachment", "10001", "nope.pdf", check=False)
    assert missing.returncode == 1 and "has no file 'nope.pdf'" in missing.stderr.decode()
