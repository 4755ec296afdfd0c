"""The preview is the mail (issue 23.5): `templates render acknowledgement` is
the acknowledgement the desk sent, byte for byte.

A mail goes in over the real listener, the real acknowledgement comes out
into the outbound maildir, and `postdesk templates render acknowledgement
--ticket N --mail` must print the same bytes. Only the Message-ID differs:
it is random per mail (`deliver.compose.new_message_id`), so that two
builds of one acknowledgement are never taken for one mail. The maildir
transport's own first two lines (Return-Path, Delivered-To: the envelope,
not the mail) are not compared either. The Date is the same: the preview is
built at the moment the desk processed the mail.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from email.message import EmailMessage

from conftest import Desk, make_mail

PDF = b"%PDF-1.4\n" + b"0" * 14_000 + b"\n%%EOF\n"
# One header is random per built mail: the Message-ID (see the module's docstring).
DIFFERING = re.compile(rb"^Message-ID: [^\r\n]*\r\n", re.MULTILINE | re.IGNORECASE)


def without_transport_lines(raw: bytes) -> bytes:
    """The mail as the desk built it: the maildir adds Return-Path and Delivered-To before it."""
    first, second, rest = raw.split(b"\r\n", 2)
    assert first.startswith(b"Return-Path: ") and second.startswith(b"Delivered-To: ")
    return rest


def comparable(raw: bytes) -> bytes:
    [line] = DIFFERING.findall(raw)  # exactly one, and only it is taken out
    return raw.replace(line, b"")


def sent_acknowledgements(desk: Desk) -> dict[str, bytes]:
    """Each sent acknowledgement by its ticket tag ("Ticket#10001")."""
    found = {}
    for path in desk.outbox_files():
        raw = without_transport_lines(path.read_bytes())
        subject = str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"])
        if tag := re.search(r"\[(Ticket#\d+)\]", subject):
            found[tag.group(1)] = raw
    return found


def german_mail_with_a_file() -> EmailMessage:
    message = make_mail(
        sender="Kim Kunde-Langername <kim.kunde-langername@customer-with-a-long-domain.example>",
        subject="Rechnung 2026-1187 ist doppelt abgebucht",
        body="Guten Tag,\n\ndie Rechnung 2026-1187 wurde zweimal abgebucht. Die Rechnung hängt an.\n\nKim\n",
    )
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="rechnung-2026-1187.pdf")
    return message


def english_mail() -> EmailMessage:
    return make_mail(
        sender="Pat Person <pat@customer.example>",
        subject="Cannot log in since this morning",
        body="Hello,\n\nsince this morning I cannot log in to my account any more. Please help.\n\nPat\n",
        Content_Language="en",
    )


def test_the_preview_is_the_sent_acknowledgement_byte_for_byte(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk({"desk": {"address": "kundenservice@beispiel-hosting.example"}})
    desk.start()
    desk.send(german_mail_with_a_file(), recipients=("kundenservice@beispiel-hosting.example",))
    desk.send(
        english_mail(), sender="pat@customer.example", recipients=("kundenservice@beispiel-hosting.example",)
    )
    sent = desk.wait_until(lambda: len(sent_acknowledgements(desk)) == 2 and sent_acknowledgements(desk))
    languages = set()
    for tag, raw in sent.items():
        number = tag.removeprefix("Ticket#")
        preview = desk.run("templates", "render", "acknowledgement", "--ticket", number, "--mail").stdout
        assert comparable(preview) == comparable(raw), (preview.decode(), raw.decode())
        message = email.message_from_bytes(raw, policy=email.policy.default)
        languages.add(message["Content-Language"])
        # The customer's reply address (role c), never an agent's (role a, the old preview's).
        assert f"+{number}-c" in str(message["Reply-To"])

        # The readable preview is the same mail: its tagged subject and its text.
        shown = desk.run("templates", "render", "acknowledgement", "--ticket", number).stdout.decode()
        body = message.get_body(("plain",))
        assert body is not None
        assert shown == f"Subject: {message['Subject']}\n\n{body.get_content()}".replace("\r\n", "\n")
    assert languages == {"de", "en"}


def test_the_acknowledgement_names_the_file_and_keeps_its_lines_short(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk({"desk": {"address": "kundenservice@beispiel-hosting.example"}})
    desk.start()
    desk.send(german_mail_with_a_file(), recipients=("kundenservice@beispiel-hosting.example",))
    desk.send(
        english_mail(), sender="pat@customer.example", recipients=("kundenservice@beispiel-hosting.example",)
    )
    sent = desk.wait_until(lambda: len(sent_acknowledgements(desk)) == 2 and sent_acknowledgements(desk))
    texts = {}
    for raw in sent.values():
        message = email.message_from_bytes(raw, policy=email.policy.default)
        body = message.get_body(("plain",))
        assert body is not None
        texts[message["Content-Language"]] = text = body.get_content().replace("\r\n", "\n")
        reply_to = str(message["Reply-To"])
        for line in text.splitlines():
            # The reply address stands alone on its line (it cannot be wrapped); the rest fits 76.
            assert len(line) <= 76 or line.strip() == reply_to, line
        assert f"\n  {reply_to}\n" in text
    assert "Die Datei, die Sie mitgeschickt haben, ist angekommen:" in texts["de"]
    assert "* rechnung-2026-1187.pdf (14.0 kB)" in texts["de"]
    assert "file" not in texts["en"]  # no file came: none is mentioned


def test_a_ticket_whose_mail_had_no_sender_previews_sample_values(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk()
    desk.run("db", "upgrade")
    desk.run("mailgate", input=b"Subject: Drucker\n\nEr druckt nicht.\n")
    desk.run("process", "--once")
    shown = desk.run("templates", "render", "acknowledgement", "--ticket", "10001").stdout.decode()
    assert shown.startswith("Subject: [Ticket#10001]") and "+10001-c" in shown
    whole = desk.run("templates", "render", "acknowledgement", "--ticket", "10001", "--mail", check=False)
    assert whole.returncode == 1
    assert whole.stderr.decode().strip() == (
        "postdesk: ticket 10001 has no customer's mail with a sender: nothing to acknowledge"
    )
