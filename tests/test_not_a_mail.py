"""Input that is no mail at all is refused at the door, not ticketed (issue 23.4).

A misconfigured pipe (`printf '' | postdesk mailgate`, `echo garbage | …`)
used to open a ticket for `unknown@invalid` and notify the agents each
time. Now mailgate exits 65 (EX_DATAERR: the mail server bounces, it does
not retry) and the listeners answer `550 5.6.0`; nothing is stored. A mail
with real content and a broken header is still stored with its defects,
and no mail of the corpus is refused. Tried against a real mailgate
process and a real `postdesk serve` over loopback.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from conftest import Desk, free_port, make_mail
from corpus import corpus_dir, mail_files, mbox_messages
from listener_support import Dialogue, stored
from postdesk.parse.is_mail import SNIFF_BYTES, not_a_mail
from postdesk.store.models import Inbound

NOT_MAIL = {
    "empty": b"",
    "whitespace": b" \r\n\t\r\n",
    "garbage": b"garbage\n",
    "a log line": b"2026-12-07 15:00:01 cron[812]: backup done: 3 files\n",
    "headers only, no From": b"Subject: test\nX-Script: nightly\n",
}

# What the rule refuses in the corpus: none of it is a mail (each file was
# looked at). Everything else there, broken or not, must still be accepted.
CORPUS_NOT_MAIL = {
    # The stdlib's header-folding fixture: a header block, no From, no text.
    "cpython-test_email/data/msg_18.txt",
    # One part of a digest, cut out without its headers.
    "cpython-test_email/data/msg_19.txt",
    # An Outlook .msg file (an OLE compound document), not RFC 5322.
    "mail-parser/tests/mails/mail_outlook_1",
    # sisimai's size probes: one space; "22".
    "sisimai-set-of-emails/mailbox/size-1",
    "sisimai-set-of-emails/mailbox/size-2",
}
# The corpus's deliberately broken mail: malformed headers, odd bounces.
BROKEN_FOLDERS = ("mail-parser/tests/mails", "sisimai-set-of-emails/maildir/err")


def inbound_count(desk: Desk) -> int:
    with desk.store.read() as session:
        return session.scalar(select(func.count()).select_from(Inbound)) or 0


@pytest.mark.parametrize("name", list(NOT_MAIL))
def test_mailgate_refuses_what_is_no_mail_with_65_and_one_line(
    make_desk: Callable[..., Desk], name: str
) -> None:
    desk = make_desk()
    desk.run("db", "upgrade")
    result = desk.run("mailgate", "--recipient", "support@example.com", input=NOT_MAIL[name], check=False)
    assert result.returncode == 65, result.stderr
    [line] = result.stderr.decode().splitlines()
    assert line.startswith("postdesk: not a mail: ") and line.endswith("nothing was stored"), line
    assert inbound_count(desk) == 0


def test_mailgate_stores_a_real_mail_with_a_broken_header_and_its_defects(
    make_desk: Callable[..., Desk],
) -> None:
    desk = make_desk()
    desk.run("db", "upgrade")
    # No From, a header line broken by a gateway: a mess, but a person wrote it.
    raw = (
        b"Subject: Drucker\nthis line broke out of the header\nTo: support@example.com\n"
        b"\nMein Drucker druckt nicht.\n"
    )
    result = desk.run("mailgate", "--recipient", "support@example.com", input=raw, check=False)
    assert result.returncode == 0, result.stderr
    desk.run("process", "--once")
    [ticket] = desk.json("tickets", "list")
    shown = desk.json("tickets", "show", str(ticket["number"]))
    assert "Drucker druckt nicht" in str(shown)
    assert "defect" in str(shown).lower(), shown
    assert inbound_count(desk) == 1


def test_mailgate_accepts_the_corpus_broken_mail(make_desk: Callable[..., Desk]) -> None:
    root = corpus_dir()
    desk = make_desk()
    desk.run("db", "upgrade")
    malformed = sorted((root / "mail-parser/tests/mails").glob("mail_malformed_*"))
    assert malformed
    for path in malformed:
        result = desk.run(
            "mailgate", "--recipient", "support@example.com", input=path.read_bytes(), check=False
        )
        assert result.returncode == 0, (path.name, result.stderr)
    assert inbound_count(desk) == len(malformed)


def test_smtp_answers_550_560_and_the_session_goes_on(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk()
    desk.start()
    talk = Dialogue(desk.port)
    try:
        assert talk.reply().startswith("220")
        assert talk.say("EHLO mx.example.com").startswith("250")
        # Past the listener's in-memory size, DATA is read back from its spool file.
        large_garbage = b"x" * (2 << 20) + b"\r\n"
        for raw in [*NOT_MAIL.values(), large_garbage]:
            assert talk.say("MAIL FROM:<script@host.example>").startswith("250")
            assert talk.say("RCPT TO:<support@example.com>").startswith("250")
            assert talk.say("DATA").startswith("354")
            talk.send_data(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
            answer = talk.reply()
            assert answer.startswith("550 5.6.0 not a mail: "), (raw[:40], answer)
        # The same session, a real mail: stored.
        assert talk.say("MAIL FROM:<kim@customer.example>").startswith("250")
        assert talk.say("RCPT TO:<support@example.com>").startswith("250")
        assert talk.say("DATA").startswith("354")
        talk.send_data(make_mail().as_bytes().replace(b"\n", b"\r\n"))
        assert talk.reply().startswith("250")
        assert talk.say("QUIT").startswith("221")
    finally:
        talk.close()
    [(_recipients, raw)] = stored(desk)
    assert b"Ich komme nicht mehr in mein Konto." in raw


def test_lmtp_refuses_once_per_recipient(make_desk: Callable[..., Desk]) -> None:
    lmtp_port = free_port()
    desk = make_desk({"ingest": {"lmtp": {"enabled": True, "host": "127.0.0.1", "port": lmtp_port}}})
    desk.start()
    desk.wait_until(lambda: "LMTP listener" in desk.log.read_text(), what="the LMTP listener")
    talk = Dialogue(lmtp_port)
    try:
        assert talk.reply().startswith("220")
        assert talk.say("LHLO mx.example.com").startswith("250")
        assert talk.say("MAIL FROM:<script@host.example>").startswith("250")
        assert talk.say("RCPT TO:<support@example.com>").startswith("250")
        assert talk.say("RCPT TO:<support+x@example.com>").startswith("250")
        assert talk.say("DATA").startswith("354")
        talk.send_data(b"garbage\r\n")
        answers = [talk.reply(), talk.reply()]
        assert all(a.startswith("550 5.6.0 not a mail: no header block") for a in answers), answers
    finally:
        talk.close()
    assert stored(desk) == []


def test_the_listener_stores_every_broken_mail_of_the_corpus(make_desk: Callable[..., Desk]) -> None:
    root = corpus_dir()
    paths = sorted(p for folder in BROKEN_FOLDERS for p in (root / folder).iterdir() if p.is_file())
    expected = [p for p in paths if str(p.relative_to(root)) not in CORPUS_NOT_MAIL]
    assert len(expected) > 50
    desk = make_desk()
    desk.start()
    talk = Dialogue(desk.port)
    try:
        assert talk.reply().startswith("220")
        assert talk.say("EHLO mx.example.com").startswith("250")
        for path in expected:
            assert talk.say("MAIL FROM:<>").startswith("250")
            assert talk.say("RCPT TO:<support@example.com>").startswith("250")
            assert talk.say("DATA").startswith("354")
            raw = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            talk.send_data(raw if raw.endswith(b"\r\n") else raw + b"\r\n")
            answer = talk.reply()
            assert answer.startswith("250"), (path.name, answer)
    finally:
        talk.close()
    assert len(stored(desk)) == len(expected)


def test_no_mail_of_the_corpus_is_refused_but_the_known_non_mails() -> None:
    root = corpus_dir()
    refused = set()
    for path in mail_files():
        messages = list(mbox_messages(path)) if "/mailbox/" in str(path) else [path.read_bytes()]
        if any(not_a_mail(raw) for raw in messages):
            refused.add(str(path.relative_to(root)))
    assert refused == CORPUS_NOT_MAIL


@pytest.mark.parametrize(
    "raw",
    [
        b"From: kim@customer.example\n",  # a From, no text: a mail with an empty body
        b"Subject: Drucker\n\nEr druckt nicht.\n",  # no From, but text
        b"From sender Mon Dec  7 10:00:00 2026\nFrom: a@b.example\n\nhi\n",  # an mbox envelope line first
        b"\r\n\r\nFrom: a@b.example\r\n\r\nhi\r\n",  # blank lines before the header block
        b"X-Spam: no\nthe blank line is missing\n",  # text where the header block ends
        b"Subject: " + b"x" * SNIFF_BYTES + b"\n",  # a header block past what is read: not settled
    ],
)
def test_what_the_rule_lets_through(raw: bytes) -> None:
    assert not_a_mail(raw) is None


def test_the_reason_is_printable_ascii_for_an_smtp_reply() -> None:
    why = not_a_mail(b"\xff\xfe\x00binary\x1b[0m\n")
    assert why is not None and why.isascii() and why.isprintable()
