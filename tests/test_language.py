"""One language decision per ticket: detected from what the customer newly wrote, over SMTP
into a real `postdesk serve` on the defaults of `make run` (a German desk)."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from conftest import Desk, make_mail
from postdesk.language.detect import Detector, decide

DETECTOR = Detector()


def decided(text: str, content_language: str | None = None) -> tuple[str, str]:
    decision = decide(
        DETECTOR, text, content_language, answered_in=("de", "en"), desk_language="de", fallback_language="en"
    )
    return decision.language, decision.reason


def test_clear_text_is_detected_and_short_text_falls_back() -> None:
    assert decided("Ich komme seit dem Update nicht mehr in mein Konto.")[0] == "de"
    language, reason = decided("Hi, since the update I cannot log in to my account.", "de-DE")
    assert language == "en" and reason.startswith("detected en, "), "Content-Language is the UI locale"
    language, reason = decided("Bonjour, je ne peux plus me connecter à mon compte.")
    assert language == "en" and "detected fr" in reason and "no fr templates" in reason
    assert decided("Danke") == ("de", "too short (1 word): desk default")
    assert decided("Thanks!", "en-GB") == ("en", "too short (1 word): Content-Language en")


def kinds(desk: Desk) -> list[str]:
    return [message["kind"] for message in desk.json("tickets", "show", "10001")["messages"]]


def acknowledgement_of(desk: Desk, count: int) -> EmailMessage:
    files = desk.wait_until(
        lambda: len(found := desk.outbox_files()) >= count and found, what=f"{count} mails"
    )
    newest = sorted(files, key=lambda path: path.stat().st_mtime_ns)[count - 1]
    return email.message_from_bytes(newest.read_bytes(), policy=email.policy.default)  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("subject", "body", "language", "said"),
    [
        (
            "Login broken",
            "Hello, since yesterday I cannot log in to my account any more.\n",
            "en",
            "We have received",
        ),
        ("Login kaputt", "Hallo, seit gestern komme ich nicht mehr in mein Konto.\n", "de", "Ihre Anfrage"),
        (
            "Connexion",
            "Bonjour, depuis hier je ne peux plus me connecter à mon compte.\n",
            "en",
            "We have received",
        ),
        ("Hilfe", "Danke\n", "de", "Ihre Anfrage"),
    ],
    ids=["english", "german", "french-gets-the-fallback", "one-word-gets-the-desks"],
)
def test_the_acknowledgement_speaks_the_customers_language(
    desk: Desk, subject: str, body: str, language: str, said: str
) -> None:
    desk.send(make_mail(subject=subject, body=body))
    ack = acknowledgement_of(desk, 1)
    assert ack["Content-Language"] == language and said in str(ack["Subject"])
    [row] = desk.json("tickets", "list")
    assert row["language"] == language


def test_a_german_reply_under_an_english_quote_stays_german_and_a_follow_up_keeps_it(desk: Desk) -> None:
    quoted = "\n".join(
        "> " + line
        for line in (
            "On Monday, Support wrote:",
            "Dear customer, we have received your request and will answer it as soon as we can.",
            "Please do not reply to this message; your ticket number is in the subject.",
        )
    )
    body = f"Hallo, das Problem besteht immer noch, ich komme nicht in mein Konto.\n\n{quoted}\n"
    desk.send(make_mail(subject="Re: Your request", body=body))
    assert acknowledgement_of(desk, 1)["Content-Language"] == "de"
    shown = desk.run("tickets", "show", "10001").stdout.decode()
    assert "language de (detected de, " in shown
    # The customer writes again in English: the ticket keeps its language.
    follow_up = make_mail(
        subject="Re: [Ticket#10001] Your request", body="Any news? I still cannot log in.\n"
    )
    desk.send(follow_up)
    desk.wait_until(lambda: kinds(desk).count("customer") == 2, what="the follow-up on the ticket")
    assert desk.json("tickets", "show", "10001")["language"] == "de"


def test_an_operator_sets_the_language_of_the_next_automatic_mail(desk: Desk) -> None:
    desk.send(make_mail(subject="Hilfe", body="Ich komme nicht mehr in mein Konto, bitte helfen Sie mir.\n"))
    assert acknowledgement_of(desk, 1)["Content-Language"] == "de"
    assert desk.run("tickets", "set-language", "10001", "en").stdout.decode().strip() == (
        "ticket 10001: language de → en"
    )
    shown = desk.json("tickets", "show", "10001")
    assert shown["language"] == "en" and "tickets set-language" in shown["language_reason"]
    preview = desk.run("templates", "render", "acknowledgement", "--ticket", "10001").stdout.decode()
    assert "We have received your request" in preview
    refused = desk.run("tickets", "set-language", "10001", "fr", check=False)
    assert refused.returncode == 1 and "no templates in 'fr'" in refused.stderr.decode()
