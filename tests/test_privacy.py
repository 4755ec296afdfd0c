"""A customer's data: `contacts export` gives them everything the desk holds, `contacts erase`
leaves no trace of them in the database file, `retention run` deletes what is older than configured.
End to end: mail over SMTP into a real `postdesk serve`, then the commands on its database."""

from __future__ import annotations

import json
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from agents_support import KIM, mail_to, processed, start_agent_desk
from conftest import Desk, make_mail

PHRASE = "Quittengelee-Vorfall-7731"  # in Kim's mail only: the byte search looks for it
PDF = b"%PDF-1.4 Kims Vertrag " + PHRASE.encode() + b" Ende"
COLLEAGUE = "lea@customer.example"


def kims_mail() -> EmailMessage:
    mail = make_mail(
        sender=f"Kim Kunde <{KIM}>", subject="Vertrag", body=f"Mein Vertrag: {PHRASE}. Bitte prüfen.\n"
    )
    mail.add_attachment(PDF, maintype="application", subtype="pdf", filename="vertrag.pdf")
    return mail


def customer_reply(desk: Desk, sender: str, body: str) -> EmailMessage:
    """SENDER answers Kim's acknowledgement (the colleague on Cc answers it to all)."""
    [acknowledgement] = mail_to(desk, KIM)[:1]
    reply = make_mail(sender=sender, subject="Re: " + str(acknowledgement["Subject"]), body=body)
    reply["In-Reply-To"] = acknowledgement["Message-ID"]
    reply["References"] = acknowledgement["Message-ID"]
    return reply


@pytest.fixture
def kim_desk(make_desk) -> tuple[Desk, list[bytes]]:
    """A desk where Kim wrote with a file and answered her acknowledgement: the raw mails as sent."""
    desk = start_agent_desk(make_desk())
    first = kims_mail()
    desk.send(first, sender=KIM)
    processed(desk, 1)
    second = customer_reply(desk, f"Kim Kunde <{KIM}>", f"Noch etwas zu {PHRASE}: die Seite 2.\n")
    desk.send(second, sender=KIM, recipients=(str(mail_to(desk, KIM)[0]["Reply-To"]),))
    processed(desk, 2)
    return desk, [on_the_wire(first), on_the_wire(second)]


def on_the_wire(mail: EmailMessage) -> bytes:
    """MAIL's bytes as smtplib sends them: it ends the data with CRLF when the mail does not."""
    raw = mail.as_bytes()
    return raw if raw.endswith(b"\r\n") else raw + b"\r\n"


def test_export_holds_the_contact_tickets_messages_files_and_raw_mails(kim_desk, tmp_path: Path) -> None:
    desk, sent = kim_desk
    out = tmp_path / "kim.json"
    desk.run("contacts", "export", KIM, "--out", str(out))
    document = json.loads(out.read_text())
    assert document["contact"]["email"] == KIM and document["contact"]["name"] == "Kim Kunde"
    assert [t["number"] for t in document["tickets"]] == ["10001"]
    received = [m for m in document["messages"] if m["direction"] == "in"]
    assert [m["from"] for m in received] == [KIM, KIM]
    assert PHRASE in received[0]["text"] and PHRASE in received[1]["text"]
    assert [(a["filename"], a["size"]) for a in received[0]["attachments"]] == [("vertrag.pdf", len(PDF))]
    assert {o["kind"] for o in document["outbound"]} >= {"acknowledgement"}
    assert set(document) >= {"phones", "feature_requests", "voicemails", "caller_hints"}
    with zipfile.ZipFile(out.with_suffix(".zip")) as zipped:
        assert [zipped.read(m["raw_file"]) for m in received] == sent
        assert zipped.read(received[0]["attachments"][0]["file"]) == PDF
        assert all(zipped.read(o["raw_file"]) for o in document["outbound"])


def test_export_of_an_unknown_address_says_so(kim_desk, tmp_path: Path) -> None:
    desk, _ = kim_desk
    result = desk.run("contacts", "export", "nobody@nowhere.example", check=False)
    assert result.returncode == 1 and "holds nothing about nobody@nowhere.example" in result.stderr.decode()
