"""Outgoing mail as bytes: what a mail client reads back from `render`."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

from postdesk.core.mail import Attachment
from postdesk.deliver.compose import Outgoing, render

WHEN = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _outgoing(**changes: object) -> Outgoing:
    values: dict[str, object] = {
        "from_name": "Beispiel Support",
        "from_address": "support@example.com",
        "to_name": "Jürgen Müller",
        "to_address": "juergen@customer.example",
        "subject": "[Ticket#10001] Ihre Anfrage: Rücksendung",
        "body": "Guten Tag Jürgen Müller,\n\nwir kümmern uns darum.\n",
        "message_id": "ack.1@example.com",
        "date": WHEN,
        "in_reply_to": "orig-1@customer.example",
        "references": ("older@customer.example", "orig-1@customer.example"),
        "reply_to": "support+10001-abc@example.com",
        "auto_submitted": "auto-replied",
        "language": "de",
    }
    values.update(changes)
    return Outgoing(**values)  # type: ignore[arg-type]


def _read(raw: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(raw, policy=policy.default)


def _text(part) -> str:  # type: ignore[no-untyped-def]
    """The text as the writer meant it: mail's CRLF line ends read back as newlines."""
    return part.get_content().replace("\r\n", "\n")


def test_headers_and_text_read_back_as_written() -> None:
    raw = render(_outgoing())
    mail = _read(raw)
    assert mail["From"].addresses[0].display_name == "Beispiel Support"
    assert mail["To"].addresses[0].display_name == "Jürgen Müller"
    assert mail["To"].addresses[0].addr_spec == "juergen@customer.example"
    assert mail["Subject"] == "[Ticket#10001] Ihre Anfrage: Rücksendung"
    assert mail["Message-ID"] == "<ack.1@example.com>"
    assert mail["In-Reply-To"] == "<orig-1@customer.example>"
    assert mail["References"] == "<older@customer.example> <orig-1@customer.example>"
    assert mail["Reply-To"].addresses[0].addr_spec == "support+10001-abc@example.com"
    assert mail["Auto-Submitted"] == "auto-replied" and mail["X-Auto-Response-Suppress"] == "All"
    assert mail["Content-Language"] == "de"
    assert _text(mail) == "Guten Tag Jürgen Müller,\n\nwir kümmern uns darum.\n"
    assert all(line.endswith(b"\r") for line in raw.split(b"\n")[:-1])  # CRLF throughout
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_line_breaks_in_a_name_or_subject_inject_no_header() -> None:
    raw = render(
        _outgoing(
            to_name="Kim\r\nBcc: victim@evil.example", subject="Hilfe\r\nBcc: victim@evil.example\r\n\r\nx"
        )
    )
    mail = _read(raw)
    assert mail["Bcc"] is None
    assert not any(line.lower().startswith(b"bcc:") for line in raw.splitlines())
    assert mail["Subject"] == "Hilfe Bcc: victim@evil.example x"


def test_long_lines_go_quoted_printable_and_from_lines_stay_as_written() -> None:
    body = "From here on it works.\n" + "x" * 2000 + "\n"
    raw = render(_outgoing(body=body))
    mail = _read(raw)
    assert mail["Content-Transfer-Encoding"] == "quoted-printable"
    assert _text(mail) == body
    ascii_only = _read(render(_outgoing(body="From me.\n")))
    assert _text(ascii_only) == "From me.\n"


def test_attachments_go_along_with_their_names() -> None:
    files = (
        Attachment("Bericht für Kim.pdf", "application/pdf", b"%PDF-1.4\x00\xff"),
        Attachment("original.eml", "message/rfc822", b"Subject: x\n\ny\n", content_id="part1", inline=True),
    )
    mail = _read(render(_outgoing(attachments=files)))
    assert mail.get_content_type() == "multipart/mixed"
    assert mail.get_body(("plain",)).get_content().startswith("Guten Tag")
    parts = list(mail.iter_attachments())
    assert [p.get_filename() for p in parts] == ["Bericht für Kim.pdf", "original.eml"]
    assert parts[0].get_content() == b"%PDF-1.4\x00\xff"
    # A message part goes as a file, its bytes intact.
    assert parts[1].get_content_type() == "application/octet-stream"
    assert parts[1].get_content() == b"Subject: x\n\ny\n"
    assert parts[1]["Content-ID"] == "<part1>" and parts[1].get_content_disposition() == "inline"
