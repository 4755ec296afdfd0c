"""Splitting what a person newly wrote from quotes and signature."""

from __future__ import annotations

from corpus import corpus_dir
from postdesk.parse.mime import parse_mail
from postdesk.parse.reply_text import split_reply


def test_german_quote_header_and_closing() -> None:
    parts = split_reply(
        "Hallo,\n\ndas Problem besteht weiterhin.\n\nViele Grüße\nKim Kunde\nTel.: 030 1234567\n\n"
        "Am 23.11.2026 um 10:00 schrieb Example Support <support@example.com>:\n> Guten Tag,\n> alt\n"
    )
    assert parts.new_text == "Hallo,\n\ndas Problem besteht weiterhin."
    assert "Tel.: 030 1234567" in parts.signature
    assert parts.quoted.startswith("Am 23.11.2026") and "> alt" in parts.quoted


def test_outlook_original_message_block() -> None:
    parts = split_reply(
        "Kurze Frage zum Tarif.\n\n-----Ursprüngliche Nachricht-----\nVon: Support\nGesendet: Montag\n"
        "An: kim\nBetreff: x\n\nalt\n"
    )
    assert parts.new_text == "Kurze Frage zum Tarif."
    assert "alt" in parts.quoted


def test_english_on_wrote() -> None:
    parts = split_reply(
        "Thanks, that fixed it.\n\nOn Mon, Nov 23, 2026 at 10:00 AM Support <s@x.example> wrote:\n> old\n"
    )
    assert parts.new_text == "Thanks, that fixed it."


def test_empty_text() -> None:
    assert split_reply("  \n").new_text == ""


def test_talon_replies_match_their_expected_text() -> None:
    """talon's standard replies: each is a reply whose new text is "Hello",
    unless a `<name>_reply_text` file beside it says otherwise (as talon's own
    tests read them)."""
    fixtures = corpus_dir() / "talon" / "tests" / "fixtures" / "standard_replies"
    cases = sorted(fixtures.glob("*.eml"))
    misses = []
    for mail_path in cases:
        expected_path = mail_path.with_name(mail_path.stem + "_reply_text")
        want = expected_path.read_text().strip() if expected_path.exists() else "Hello"
        text = parse_mail(mail_path.read_bytes()).text
        got = split_reply(text).new_text
        # The library puts "Sent from my iPhone" into the signature; talon keeps it in the reply.
        if " ".join(got.split()) != " ".join(want.split()) and not want.startswith(got):
            misses.append((mail_path.name, got[:80]))
    print(f"\ntalon: {len(cases) - len(misses)}/{len(cases)} replies split as expected; misses: {misses}")
    assert len(misses) <= len(cases) * 0.2, misses
