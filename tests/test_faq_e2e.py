"""FAQ suggestions end to end: mail over SMTP to a real `postdesk serve`,
the acknowledgement in its maildir."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from conftest import REPO, Desk, make_mail


def read_mail(path: Path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[return-value]


def acknowledgement_for(desk: Desk, message: EmailMessage, count: int) -> str:
    desk.send(message, sender=message["From"].addresses[0].addr_spec)
    desk.wait_until(lambda: len(desk.outbox_files()) >= count, what=f"acknowledgement {count}")
    ack = read_mail(desk.outbox_files()[-1])
    assert message["Message-ID"] in ack["In-Reply-To"]
    return ack.get_content()


def test_suggestions_for_a_matching_german_mail_and_none_for_an_unrelated_one(
    make_desk: Callable[..., Desk],
) -> None:
    desk = make_desk({"faq": {"path": str(REPO / "faq")}})
    assert desk.json("faq", "index")["entries"] >= 30  # migrates the new store too
    desk.start()

    matching = make_mail(
        sender="Kim Kunde <kim@customer.example>",
        subject="Paket zurückschicken",
        body=(
            "Hallo,\n\ndie Schuhe sind leider zu klein. Wie kann ich sie zurückschicken, "
            "bekomme ich ein Rücksendeetikett?\n\nViele Grüße\nKim Kunde\n"
        ),
    )
    body = acknowledgement_for(desk, matching, 1)
    assert "Vielleicht hilft Ihnen schon einer dieser Artikel aus unseren häufigen Fragen:" in body
    assert "* Wie schicke ich einen Artikel zurück?" in body
    assert "https://help.example.com/de/ruecksendung" in body
    assert "30 Tage Rückgaberecht" in body  # the excerpt
    assert body.count("https://help.example.com/") <= 3

    unrelated = make_mail(
        sender="Uwe Unbekannt <uwe@customer.example>",
        subject="Kooperationsanfrage",
        body=(
            "Sehr geehrte Damen und Herren,\n\nwir sind eine Agentur aus Hamburg und würden gern "
            "über eine Partnerschaft sprechen. Wer ist dafür zuständig?\n\nMit freundlichen Grüßen\nUwe\n"
        ),
    )
    body = acknowledgement_for(desk, unrelated, 2)
    assert "häufigen Fragen" not in body and "help.example.com" not in body
    assert "Ticketnummer 10002" in body

    # The preview of a ticket's acknowledgement shows the same suggestions.
    preview = desk.run("templates", "render", "acknowledgement", "--ticket", "10001").stdout.decode()
    assert "https://help.example.com/de/ruecksendung" in preview
    preview = desk.run("templates", "render", "acknowledgement", "--ticket", "10002").stdout.decode()
    assert "help.example.com" not in preview


def test_english_mail_gets_english_entries(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk({"faq": {"path": str(REPO / "faq")}, "desk": {"language": "en"}})
    desk.run("faq", "index")
    desk.start()
    message = make_mail(
        sender="Emily <emily@customer.example>",
        subject="Forgot password",
        body="Hi, I forgot my password and can't log in anymore. How do I reset it?\nThanks,\nEmily\n",
    )
    body = acknowledgement_for(desk, message, 1)
    assert "One of these articles from our FAQ may already help you:" in body
    assert "https://help.example.com/en/password-reset" in body


def test_no_index_no_suggestions(desk: Desk) -> None:
    """A desk whose FAQ was never indexed acknowledges as before."""
    message = make_mail(subject="Passwort vergessen", body="Ich habe mein Passwort vergessen.\n")
    body = acknowledgement_for(desk, message, 1)
    assert "häufigen Fragen" not in body and "Ticketnummer 10001" in body
