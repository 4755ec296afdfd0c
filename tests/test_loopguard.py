"""auto_reply_allowed: the RFC 3834 loop guard, on small mails and on the corpus."""

from __future__ import annotations

import dataclasses

import pytest

from corpus import ZAMMAD_MAIL, corpus_dir, sisimai
from postdesk.core.mail import Mail
from postdesk.deliver.loopguard import Verdict, auto_reply_allowed
from postdesk.parse.mime import parse_mail

OWN = frozenset({"support@example.com"})
CUSTOMER = "From: Jane Doe <jane@example.org>\nTo: support@example.com\nSubject: My invoice is wrong"


def mail(headers: str, body: str = "Hello, please help.") -> Mail:
    return parse_mail(f"{headers.strip()}\n\n{body}".encode())


def verdict(headers: str, envelope: str | None = "jane@example.org") -> Verdict:
    return auto_reply_allowed(mail(headers), envelope, OWN)


def test_customer_mail_may_be_answered() -> None:
    assert verdict(CUSTOMER) == Verdict(True, "no loop risk found")
    assert verdict(CUSTOMER, envelope=None).allowed
    assert verdict(CUSTOMER + "\nAuto-Submitted: no").allowed
    assert verdict(CUSTOMER + "\nAuto-Submitted: no (manually)").allowed
    assert verdict(CUSTOMER + "\nPrecedence: first-class").allowed


def test_verdict_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Verdict(True, "x").allowed = False  # type: ignore[misc]


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted: auto-generated", "Auto-Submitted: auto-generated"),
        ("Auto-Submitted: auto-notified", "Auto-Submitted: auto-notified"),
        ("Precedence: bulk", "Precedence: bulk"),
        ("Precedence: junk", "Precedence: junk"),
        ("Precedence: list", "Precedence: list"),
        ("Precedence: auto_reply", "Precedence: auto_reply"),
        ("List-Id: <news.example.org>", "List-Id header (mailing list)"),
        ("List-Unsubscribe: <mailto:leave@example.org>", "List-Unsubscribe header (mailing list)"),
        ("List-Post: <mailto:list@example.org>", "List-Post header (mailing list)"),
        ("X-MLServer: fml [fml 4.0.3]", "X-MLServer header (mailing list)"),
        ("X-Auto-Response-Suppress: All", "X-Auto-Response-Suppress: All"),
        ("X-Auto-Response-Suppress: OOF, AutoReply", "X-Auto-Response-Suppress: OOF, AutoReply"),
        ("X-Autoreply: yes", "X-Autoreply header"),
        ("X-Autorespond: yes", "X-Autorespond header"),
    ],
)
def test_headers_that_forbid_automatic_answers(extra: str, reason: str) -> None:
    assert verdict(f"{CUSTOMER}\n{extra}") == Verdict(False, reason)


def test_empty_return_path() -> None:
    assert verdict(CUSTOMER, envelope="") == Verdict(False, "empty return path <>")
    assert verdict(CUSTOMER, envelope="<>") == Verdict(False, "empty return path <>")
    assert verdict("Return-Path: <>\n" + CUSTOMER, envelope=None) == Verdict(False, "empty return path <>")


@pytest.mark.parametrize(
    ("sender", "reason"),
    [
        ("MAILER-DAEMON@mx.example.org", "From MAILER-DAEMON@mx.example.org is a mail system address"),
        ("postmaster@example.org", "From postmaster@example.org is a mail system address"),
        ("noreply@example.org", "From noreply@example.org is a no-reply address"),
        ("no-reply@example.org", "From no-reply@example.org is a no-reply address"),
        ("do-not-reply@example.org", "From do-not-reply@example.org is a no-reply address"),
        ("DoNotReply@example.org", "From DoNotReply@example.org is a no-reply address"),
        ("bounce@example.org", "From bounce@example.org is a no-reply address"),
        ("bounces+123-abc@example.org", "From bounces+123-abc@example.org is a no-reply address"),
        ("support@example.com", "From support@example.com is the desk's own address"),
        ("Support+T0k3n@Example.com", "From Support+T0k3n@Example.com is the desk's own address"),
    ],
)
def test_senders_never_answered(sender: str, reason: str) -> None:
    assert verdict(f"From: <{sender}>\nSubject: Hello", envelope=None) == Verdict(False, reason)


def test_machine_envelope_sender() -> None:
    result = verdict(CUSTOMER, envelope="bounce-42=jane=example.org@lists.example.org")
    assert result == Verdict(
        False, "envelope sender bounce-42=jane=example.org@lists.example.org is a no-reply address"
    )


def test_reply_to_the_desk_itself() -> None:
    result = verdict(CUSTOMER + "\nReply-To: support@example.com")
    assert result == Verdict(False, "Reply-To support@example.com is the desk's own address")


@pytest.mark.parametrize(
    "headers",
    [
        "Subject: no From at all",
        "From: undisclosed-recipients:;\nSubject: x",
        "From: jane\nSubject: x",
        "From: <>\nSubject: x",
    ],
)
def test_no_usable_from_address(headers: str) -> None:
    assert verdict(headers, envelope=None) == Verdict(False, "no usable From address")


def test_classified_machine_mail_is_never_answered() -> None:
    result = verdict("From: jane@example.org\nSubject: Out of Office: Invoice")
    assert not result.allowed and result.reason.startswith("classified auto_reply: auto-reply subject")


def test_customer_using_outlook_may_still_get_no_auto_reply() -> None:
    """X-Auto-Response-Suppress on a person's mail: a customer, but one who asked for no auto-replies."""
    result = verdict(CUSTOMER + "\nX-Auto-Response-Suppress: All")
    assert not result.allowed


# --- corpus -----------------------------------------------------------------------------


def test_no_corpus_bounce_auto_reply_or_report_is_answered() -> None:
    paths = sisimai("bsd") + sisimai("err") + sisimai("not", "rb-issue")
    answered = [p.name for p in paths if auto_reply_allowed(parse_mail(p.read_bytes()), None, OWN).allowed]
    print(f"\nsisimai mail that would be answered: {len(answered)}/{len(paths)} {answered}")
    # Only the two customers who forward a bounce to ask about it. The SES
    # delivery notices and the fml list-admin notices, which classify does
    # not call bounces, are refused too (no-reply sender, list headers).
    assert answered == ["lhost-sendmail-14.eml", "make-test-36.eml"]


def test_most_zammad_customer_mail_may_be_answered() -> None:
    paths = sorted((corpus_dir() / ZAMMAD_MAIL).glob("*.box"))
    verdicts = [(p.name, auto_reply_allowed(parse_mail(p.read_bytes()), None, OWN)) for p in paths]
    refused = [(name, v.reason) for name, v in verdicts if not v.allowed]
    print(f"\nZammad mails refused an acknowledgement: {len(refused)}/{len(paths)}")
    for row in refused:
        print("   ", *row)
    assert len(paths) - len(refused) >= 0.6 * len(paths)


@pytest.mark.parametrize("sender", ['"Quoted Local Part"@example.org', "jane@localhost", "jane@example.org."])
def test_unusual_but_usable_addresses(sender: str) -> None:
    assert verdict(f"From: <{sender}>\nSubject: Hello", envelope=None).allowed
