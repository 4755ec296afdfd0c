"""parse_mail: never raises, reads real mail like Zammad does, records what it could not read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from corpus import all_files, mail_files, mbox_messages, normalise, zammad_cases
from postdesk.core.mail import Address, Mail
from postdesk.parse.mime import parse_mail

# --- the whole corpus ------------------------------------------------------------


def test_every_corpus_file_parses() -> None:
    """Every file (mail or not: certificates, images, YAML too) yields a Mail."""
    files = all_files()
    parsed = 0
    for path in files:
        raw = path.read_bytes()
        assert isinstance(parse_mail(raw), Mail), path
        parsed += 1
        if "mailbox" in path.parts:
            for message in mbox_messages(path):
                assert isinstance(parse_mail(message), Mail), path
                parsed += 1
    mails = mail_files()
    print(
        f"\nparsed {parsed} inputs: {len(files)} corpus files ({len(mails)} of them mail) plus mbox messages"
    )
    assert len(files) > 1000 and len(mails) > 850


def test_corpus_mail_has_sender_and_no_fatal_defects() -> None:
    without_from = []
    for path in mail_files():
        mail = parse_mail(path.read_bytes())
        assert not any(d.startswith("parser failed") for d in mail.defects), (path, mail.defects)
        if mail.from_ is None:
            without_from.append(path.name)
    # Bounces from "MAILER-DAEMON <>" and a few spam mails have no From address.
    print(f"\n{len(without_from)} corpus mails without a From address")
    assert len(without_from) < 60


def test_zammad_agreement() -> None:
    cases = zammad_cases()
    assert len(cases) >= 100
    from_disagree, subject_disagree = [], []
    for box, expected in cases:
        mail = parse_mail(box.read_bytes())
        got_from = mail.from_.email if mail.from_ else ""
        if got_from.lower() != str(expected.get("from_email") or "").lower():
            from_disagree.append((box.name, got_from, expected.get("from_email")))
        if normalise(mail.subject) != normalise(expected.get("subject")):
            subject_disagree.append((box.name, mail.subject, expected.get("subject")))
    from_rate = 1 - len(from_disagree) / len(cases)
    subject_rate = 1 - len(subject_disagree) / len(cases)
    print(
        f"\nZammad agreement over {len(cases)} mails: from_email {from_rate:.1%}, subject {subject_rate:.1%}"
    )
    for row in from_disagree + subject_disagree:
        print("  disagree:", row)
    # docs/parsing.md explains each disagreement (measured: 104/108 and 107/108).
    assert from_rate >= 0.95
    assert subject_rate >= 0.98


def test_zammad_bodies_decode() -> None:
    """Plain-text Zammad mails: the body Zammad shows is in ours (after whitespace folding)."""
    cases = [(box, exp) for box, exp in zammad_cases() if exp.get("content_type") == "text/plain"]
    agree = 0
    for box, expected in cases:
        want = normalise(expected.get("body"))[:200]
        if want == "no visible content" or want in normalise(parse_mail(box.read_bytes()).text):
            agree += 1
    print(f"\nZammad plain-text bodies found in ours: {agree}/{len(cases)}")
    assert agree >= 0.85 * len(cases)


# --- bad input ---------------------------------------------------------------


def nested(depth: int) -> bytes:
    head = b"From: a@example.com\nSubject: deep\nMIME-Version: 1.0\n"
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i) for i in range(depth)
    )
    closing = b"".join(b"--b%d--\n" % i for i in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\n\nhello from the bottom\n" + closing


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff" * 1000,
        b"\n\n\n",
        b"From: a@example.com\r\nSubject: only headers\r\n",
        b"no headers at all, just text\n\nand a second paragraph\n",
        b"Subject: " + b"x" * 1_000_000 + b"\n\nbody",
        b"Subject: " + b"=?a?q?" * 100_000 + b"\n\nbody",
        b"Content-Type: multipart/mixed; boundary=\n\n--\n--\n",
        b"Content-Type: multipart/mixed\n\nno boundary at all\n",
        b'Content-Type: text/plain; charset="\n\nbody',
        b"Content-Type: text/plain; charset*=''\n\nbody",
        b"Content-Type: ;;;\nContent-Disposition: attachment; filename*=x''%ff\n\nbody",
        b"Content-Type: message/rfc822\n\nnot a message",
        b"Content-Type: message/delivery-status\n\n\n\n\n",
        b"Date: Mon, 99 Foo 12345 99:99:99 +9999\nMessage-ID: <>\nReferences: <<<>>>\n\nx",
        bytes(range(256)) * 64,
    ],
    ids=lambda raw: repr(raw[:30]),
)
def test_never_raises(raw: bytes) -> None:
    assert isinstance(parse_mail(raw), Mail)


def test_empty_input() -> None:
    mail = parse_mail(b"")
    assert mail.subject == "" and mail.text == "" and mail.from_ is None
    assert "no From header" in mail.defects


def test_binary_garbage_keeps_text_and_defects() -> None:
    mail = parse_mail(b"\x00\xff" * 1000)
    assert mail.from_ is None
    assert mail.defects


def test_headers_only() -> None:
    mail = parse_mail(b"From: Hans <hans@example.com>\r\nSubject: hi\r\nMessage-ID: <x@y>\r\n")
    assert mail.from_ == Address("hans@example.com", "Hans")
    assert (mail.subject, mail.message_id, mail.text) == ("hi", "x@y", "")


def test_no_headers() -> None:
    mail = parse_mail(b"just a body line\n\nand more\n")
    assert mail.text.startswith("just a body line")
    assert "no From header" in mail.defects


def test_utf8_raw_headers_decode_with_umlauts() -> None:
    raw = "From: Jürgen Müller <j@example.de>\nSubject: Größenänderung für Überweisung\n\nbody\n".encode()
    mail = parse_mail(raw)
    assert mail.subject == "Größenänderung für Überweisung"
    assert mail.from_ == Address("j@example.de", "Jürgen Müller")
    assert mail.header("subject") == "Größenänderung für Überweisung"
    assert not mail.defects


def test_latin1_raw_headers_use_the_declared_charset() -> None:
    raw = (
        "From: Jürgen Müller <j@example.de>\nSubject: Größe\n"
        "Content-Type: text/plain; charset=iso-8859-1\n\nGrüße\n"
    ).encode("latin-1")
    mail = parse_mail(raw)
    assert mail.subject == "Größe"
    assert mail.from_ is not None and mail.from_.name == "Jürgen Müller"
    assert mail.text == "Grüße"
    assert any("header 'Subject' has 8-bit bytes that are not UTF-8" in d for d in mail.defects)


def test_latin1_raw_headers_without_any_charset_fall_back_to_windows_1252() -> None:
    mail = parse_mail("Subject: Anfrage – dringend, Grüße\n\nx".encode("cp1252"))
    assert mail.subject == "Anfrage – dringend, Grüße"
    assert any("windows-1252 (guessed)" in d for d in mail.defects)


def test_unquoted_comma_in_raw_display_name() -> None:
    mail = parse_mail("From: Müller, Jürgen <j@example.de>\n\nx".encode())
    assert mail.from_ == Address("j@example.de", "Müller, Jürgen")


def test_unknown_charset_body_is_guessed_with_a_defect() -> None:
    raw = b"From: a@example.com\nContent-Type: text/plain; charset=x-foo\n\nGr\xfc\xdfe aus K\xf6ln\n"
    mail = parse_mail(raw)
    assert mail.text == "Grüße aus Köln"
    assert "unknown charset 'x-foo' in body, decoded as windows-1252 (guessed)" in mail.defects


def test_unknown_charset_in_encoded_word() -> None:
    mail = parse_mail(b"From: =?x-unknown?q?M=FCller?= <m@example.com>\nSubject: =?foo?B?R3L832U=?=\n\nx")
    assert mail.subject == "Grüße"
    assert mail.from_ == Address("m@example.com", "Müller")
    assert any(
        d.startswith("unknown charset 'foo' in encoded word of header 'Subject'") for d in mail.defects
    )


def test_encoded_words_split_inside_a_character() -> None:
    mail = parse_mail(b"Subject: =?utf-8?B?w6Q=?= =?utf-8?B?w7Y=?= =?utf-8?Q?=C3?= =?utf-8?Q?=BC?= x\n\nx")
    assert mail.subject == "äöü x"


def test_encoded_word_display_name_with_comma_stays_one_address() -> None:
    mail = parse_mail(b"From: =?utf-8?Q?M=C3=BCller=2C_J=C3=BCrgen?= <j@example.de>, \n\nx")
    assert mail.from_ == Address("j@example.de", "Müller, Jürgen")


@pytest.mark.parametrize("depth", [60, 200, 500])
def test_deep_nesting_still_gives_the_text_at_the_bottom(depth: int) -> None:
    mail = parse_mail(nested(depth))
    assert mail.subject == "deep"
    assert mail.text == "hello from the bottom" and mail.defects == ()


def test_nesting_beyond_the_stdlib_parser_reads_the_parts_side_by_side() -> None:
    raw = nested(5000).replace(
        b"Content-Type: text/plain\n\nhello from the bottom\n",
        b"Content-Type: text/plain\n\nhello from the bottom\n--b4999\n"
        b"Content-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n",
    )
    mail = parse_mail(raw)
    assert mail.subject == "deep" and mail.from_ == Address("a@example.com")
    assert mail.text == "hello from the bottom"
    assert [(a.filename, a.data) for a in mail.attachments] == [("a.pdf", b"%PDF-")]
    assert (
        "MIME structure too deeply nested to parse as a tree; its parts were read side by side"
        in mail.defects
    )


def test_broken_base64_keeps_what_decodes() -> None:
    raw = (
        b"From: a@example.com\nSubject: =?utf-8?B?w6Q?=\n"
        b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        b"SGFsbG8gV2VsdA=\n!!!\n"
    )
    mail = parse_mail(raw)
    assert mail.subject == "ä"
    assert mail.text == "Hallo Welt"
    assert "InvalidBase64PaddingDefect" in mail.defects


def test_broken_quoted_printable_is_kept() -> None:
    raw = b"Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\nabc=ZZdef=\n"
    assert parse_mail(raw).text.startswith("abc=ZZdef")


def test_mostly_utf8_with_stray_bytes_stays_utf8() -> None:
    raw = "Content-Type: text/plain; charset=utf-8\n\nПривет, мир! Всё хорошо.".encode() + b" \xff\n"
    mail = parse_mail(raw)
    assert mail.text.startswith("Привет, мир! Всё хорошо.")
    assert any("utf-8 with 1 undecodable sequence(s) replaced" in d for d in mail.defects)


def test_mislabelled_shift_jis_headers() -> None:
    """Japanese mail labelled ISO-2022-JP carrying Shift_JIS bytes (Zammad mail093)."""
    raw = (
        b"Subject: \x83c\x81[\x83\x8b\n"
        b"Content-Type: text/plain; charset=iso-2022-jp\n\n\x1b$B$3$s$K$A$O\x1b(B\n"
    )
    mail = parse_mail(raw)
    assert mail.subject == "ツール"
    assert mail.text == "こんにちは"


def test_header_block_with_unindented_continuation_lines() -> None:
    raw = (
        b"Return-Path: <k@example.com>\nX-Tracker: H4sIAAAAAAAAA\nIg5drOCwmrVzP5sDoseXbDeYAxijWzLyk\n"
        b"From: Karoline <k@example.com>\nSubject: AW: One Net Business\n\nsome text\n"
    )
    mail = parse_mail(raw)
    assert mail.subject == "AW: One Net Business" and mail.text == "some text"
    assert any(d.startswith("header block repaired") for d in mail.defects)


def test_missing_blank_line_after_headers_is_not_mistaken_for_a_fold() -> None:
    raw = (
        b"From: a@example.com\nTo: b@example.com\nSubject: interesting\ncounter to RFC 2822, no blank line\n"
    )
    mail = parse_mail(raw)
    assert mail.subject == "interesting"
    assert mail.text == "counter to RFC 2822, no blank line"


def test_quoted_headers_in_a_bare_body_are_not_repaired_into_headers() -> None:
    raw = (
        b"Some reply text\n______\nFrom: CRM <crm@example.com>\nSent: Friday\nTo: John\nSubject: x\n\nmore\n"
    )
    mail = parse_mail(raw)
    assert mail.from_ is None and "Some reply text" in mail.text


# --- what a Mail holds -------------------------------------------------------------


def test_ids_dates_and_addresses() -> None:
    raw = (
        b"Message-ID: < abc@example.com >\n"
        b"In-Reply-To: <p1@example.com> (Message from Hans of Mon)\n"
        b"References: <r1@example.com> junk <r2@example.com>\n\t<r3@ex\n ample.com>\n"
        b"Date: Tue, 1 Jul 2025 10:00:00 +0200\n"
        b'From: "Doe, Jane" <Jane.Doe@Example.com>\n'
        b"To: a@example.com, =?utf-8?q?B=C3=A4r?= <b@example.com>, undisclosed-recipients:;\n"
        b"Cc: c@example.com\nReply-To: r@example.com\n\nx"
    )
    mail = parse_mail(raw)
    assert mail.message_id == "abc@example.com"
    assert mail.in_reply_to == ("p1@example.com",)
    assert mail.references == ("r1@example.com", "r2@example.com", "r3@example.com")
    assert mail.date == datetime(2025, 7, 1, 10, tzinfo=timezone(timedelta(hours=2)))
    assert mail.from_ == Address("Jane.Doe@Example.com", "Doe, Jane")
    assert mail.to == (Address("a@example.com"), Address("b@example.com", "Bär"))
    assert mail.cc == (Address("c@example.com"),) and mail.reply_to == (Address("r@example.com"),)


def test_missing_and_odd_ids_and_dates() -> None:
    mail = parse_mail(b"Message-ID: <>\nReferences: a@example.com b@example.com\nDate: -0000 nonsense\n\nx")
    assert mail.message_id is None
    assert mail.references == ("a@example.com", "b@example.com")
    assert mail.date is None
    assert any(d.startswith("unparsable Date header") for d in mail.defects)


def test_date_without_zone_is_utc() -> None:
    mail = parse_mail(b"Date: Tue, 1 Jul 2025 10:00:00 -0000\n\nx")
    assert mail.date == datetime(2025, 7, 1, 10, tzinfo=UTC)


def test_headers_are_all_kept_in_order_lower_case_and_decoded() -> None:
    raw = b"Received: a\n\tb\nX-Custom: =?utf-8?q?=C3=A4?=\nReceived: c\nX-Bin: \xff\xfe\n\nx"
    mail = parse_mail(raw)
    assert mail.headers[:3] == (("received", "a b"), ("x-custom", "ä"), ("received", "c"))
    assert [name for name, _ in mail.headers] == ["received", "x-custom", "received", "x-bin"]
    assert list(mail.header_values("received")) == ["a b", "c"]


def test_alternative_takes_the_plain_part_and_keeps_inline_images() -> None:
    raw = b"""From: a@example.com
Content-Type: multipart/alternative; boundary="A"

--A
Content-Type: text/plain; charset=utf-8

plain version
--A
Content-Type: multipart/related; boundary="R"

--R
Content-Type: text/html; charset=utf-8

<p>html version</p>
--R
Content-Type: image/png
Content-ID: <logo@x>

PNG
--R--
--A--
"""
    mail = parse_mail(raw)
    assert mail.text == "plain version" and not mail.html_converted
    assert [(a.content_type, a.content_id, a.inline) for a in mail.attachments] == [
        ("image/png", "logo@x", True)
    ]


def test_empty_plain_alternative_falls_back_to_html() -> None:
    raw = b"""Content-Type: multipart/alternative; boundary="A"

--A
Content-Type: text/plain

--A
Content-Type: text/html

<html><body><p>Hello <b>there</b></p><ul><li>one</li></ul></body></html>
--A--
"""
    mail = parse_mail(raw)
    assert "Hello there" in mail.text and "one" in mail.text
    assert mail.html_converted


def test_html_only_mail_is_converted() -> None:
    mail = parse_mail(b"Content-Type: text/html; charset=utf-8\n\n<div>Hallo<br>Welt &amp; mehr</div>")
    assert mail.text == "Hallo\nWelt & mehr" and mail.html_converted
    assert mail.content_type == "text/html"


def test_several_inline_text_parts_are_concatenated() -> None:
    raw = b"""Content-Type: multipart/mixed; boundary="M"

--M
Content-Type: text/plain

first
--M
Content-Type: image/jpeg; name="photo.jpg"
Content-Disposition: inline; filename="photo.jpg"
Content-Transfer-Encoding: base64

/9j/
--M
Content-Type: text/plain

second
--M--
"""
    mail = parse_mail(raw)
    assert mail.text == "first\n\nsecond"
    (photo,) = mail.attachments
    assert (photo.filename, photo.content_type, photo.data, photo.inline) == (
        "photo.jpg",
        "image/jpeg",
        b"\xff\xd8\xff",
        True,
    )


def test_attachment_filenames_rfc2231_and_rfc2047() -> None:
    raw = b"""Content-Type: multipart/mixed; boundary="M"

--M
Content-Type: text/plain

body
--M
Content-Type: application/pdf
Content-Disposition: attachment; filename*0*=utf-8''Rechnung%20f%C3%BCr; filename*1*=%20M%C3%A4rz.pdf

%PDF
--M
Content-Type: application/octet-stream; name="=?utf-8?B?w5xiZXJzaWNodC54bHN4?="
Content-Disposition: attachment

data
--M
Content-Type: text/plain; name="notes.txt"
Content-Disposition: attachment

attached text, not body
--M--
"""
    mail = parse_mail(raw)
    assert mail.text == "body"
    assert [(a.filename, a.content_type, a.inline) for a in mail.attachments] == [
        ("Rechnung für März.pdf", "application/pdf", False),
        ("Übersicht.xlsx", "application/octet-stream", False),
        ("notes.txt", "text/plain", False),
    ]
    assert mail.attachments[0].data == b"%PDF"


def test_delivery_report_parts_are_attachments_with_their_bytes() -> None:
    raw = b"""From: MAILER-DAEMON@example.com
Content-Type: multipart/report; report-type=delivery-status; boundary="R"

--R
Content-Type: text/plain

Your message could not be delivered.
--R
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; gone@example.org
Action: failed
Status: 5.1.1
--R
Content-Type: message/rfc822

From: customer@example.org
Subject: original

the original text
--R
Content-Type: text/rfc822-headers

From: customer@example.org
Subject: original
--R--
"""
    mail = parse_mail(raw)
    assert mail.content_type == "multipart/report"
    assert mail.text == "Your message could not be delivered."
    status, original, headers = mail.attachments
    assert status.content_type == "message/delivery-status"
    assert b"Final-Recipient: rfc822; gone@example.org" in status.data and b"Status: 5.1.1" in status.data
    assert original.content_type == "message/rfc822" and original.filename.endswith(".eml")
    assert original.data.startswith(b"From: customer@example.org\nSubject: original\n\nthe original text")
    assert headers.content_type == "text/rfc822-headers" and b"Subject: original" in headers.data


def test_corpus_bounce_keeps_the_returned_message() -> None:
    from corpus import sisimai

    (path,) = [p for p in sisimai("bsd", "rfc3464-01")]
    mail = parse_mail(path.read_bytes())
    kinds = [a.content_type for a in mail.attachments]
    assert kinds == ["message/delivery-status", "message/rfc822"]
    assert b"Diagnostic-Code: SMTP; 550 5.1.1" in mail.attachments[0].data
    assert b'From: "Kijitora Cat" <kijitora@example.org>' in mail.attachments[1].data


def test_single_named_text_part_is_the_body() -> None:
    mail = parse_mail(b'Content-Type: text/plain; name="cron.log"\n\nbackup failed\n')
    assert mail.text == "backup failed" and mail.attachments == ()
