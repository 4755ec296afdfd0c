"""Feature requests: marked by rule or by hand, grouped with similar earlier
ones, counted — also when asked again after a rejection."""

from __future__ import annotations

import pytest

from conftest import Desk, make_mail
from postdesk.features.requests import request_text, similarity
from triage_support import ISSUE_RULES, configure

WISHES = [
    # (sender, subject, body)
    (
        "kim@customer.example",
        "Wunsch: Dark Mode im Kundenportal",
        "Könntet ihr bitte einen Dark Mode für das Kundenportal einbauen?",
    ),
    (
        "bea@customer.example",
        "Dark Mode für das Kundenportal",
        "Gibt es bald einen dunklen Modus (Dark Mode) im Kundenportal?",
    ),
    (
        "carl@customer.example",
        "Rechnungen als CSV exportieren",
        "Ich hätte gern die Möglichkeit, meine Rechnungen als CSV zu exportieren.",
    ),
]


def mail_in(desk: Desk, *mails: tuple[str, str, str]) -> None:
    """Store MAILS (sender, subject, body) through mailgate, then process them."""
    for sender, subject, body in mails:
        raw = make_mail(sender=sender, subject=subject, body=body).as_bytes()
        desk.run("mailgate", "--recipient", "support@example.com", input=raw)
    desk.run("process", "--once")


@pytest.fixture
def desk(make_desk) -> Desk:
    desk = make_desk()
    configure(desk, ISSUE_RULES)
    desk.run("db", "upgrade")
    return desk


def test_requests_are_grouped_counted_and_a_rejected_one_still_counts(desk: Desk) -> None:
    mail_in(desk, *WISHES)
    # The first came in as a wish by rule; the other two are marked by hand.
    out = desk.run("tickets", "mark-feature", "10002").stdout.decode()
    assert out.startswith(
        "ticket 10002: asked again: feature request 1 'Wunsch: Dark Mode im Kundenportal' (new, similarity"
    )
    assert (
        "new feature request 2 'Rechnungen als CSV exportieren'"
        in desk.run("tickets", "mark-feature", "10003").stdout.decode()
    )
    again = desk.run("tickets", "mark-feature", "10003", check=False)
    assert (
        again.returncode == 1
        and b"already counted for feature request 2; move it with --to N or --new" in again.stderr
    )

    refused = desk.run("features", "set", "1", "--status", "rejected", check=False)
    assert refused.returncode == 1 and b"needs a --reason" in refused.stderr
    desk.run("features", "set", "1", "--status", "rejected", "--reason", "Das Portal wird 2027 neu gebaut.")

    # Asked again after the rejection, in other words: it still counts, and stays rejected.
    mail_in(desk, ("dora@customer.example", "Feature-Wunsch: Dark Mode", "Bitte einen Dark Mode im Portal!"))
    features = desk.json("features", "list")
    assert [(f["id"], f["count"], f["status"]) for f in features] == [(1, 3, "rejected"), (2, 1, "new")]
    first = features[0]
    assert first["reason"] == "Das Portal wird 2027 neu gebaut." and first["asked_after_rejection"] == 1
    assert (
        first["tickets"] == ["10001", "10002", "10004"]
        and first["title"] == "Wunsch: Dark Mode im Kundenportal"
    )
    assert desk.json("features", "list", "--status", "rejected")[0]["id"] == 1

    explained = desk.json("triage", "explain", "10004")
    [feature] = [s for s in explained["steps"] if s["step"] == "feature"]
    assert feature["name"] == "wishes"
    assert (
        "asked again: feature request 1 'Wunsch: Dark Mode im Kundenportal' (rejected: Das Portal wird 2027"
        in feature["detail"]
    )
    assert "now asked 3 times" in feature["detail"]
    assert explained["priority"] == "low"

    desk.run("features", "set", "2", "--status", "accepted", "--title", "CSV-Export der Rechnungen")
    text = desk.run("features", "list").stdout.decode()
    assert (
        "   1      3  rejected  Wunsch: Dark Mode im Kundenportal" in text
        and "CSV-Export der Rechnungen" in text
    )


def test_mark_feature_to_a_chosen_request_and_errors(desk: Desk) -> None:
    mail_in(desk, WISHES[0], ("eve@customer.example", "Frage", "Geht Nachtmodus?"))
    assert (
        "asked again: feature request 1"
        in desk.run("tickets", "mark-feature", "10002", "--to", "1").stdout.decode()
    )
    assert desk.json("features", "list")[0]["count"] == 2
    # Split off into a request of its own, and moved back: the emptied request goes.
    assert (
        "new feature request 2 'Frage'"
        in desk.run("tickets", "mark-feature", "10002", "--new").stdout.decode()
    )
    assert [(f["id"], f["count"]) for f in desk.json("features", "list")] == [(2, 1), (1, 1)]
    desk.run("tickets", "mark-feature", "10002", "--to", "1")
    assert [(f["id"], f["count"], f["tickets"]) for f in desk.json("features", "list")] == [
        (1, 2, ["10001", "10002"])
    ]
    for args, message in [
        (("tickets", "mark-feature", "99999"), b"no ticket 99999"),
        (("features", "set", "7", "--status", "done"), b"no feature request 7"),
        (("features", "set", "1"), b"nothing to change"),
    ]:
        result = desk.run(*args, check=False)
        assert result.returncode == 1 and message in result.stderr


DARK = (
    "Wunsch: Dark Mode im Kundenportal",
    "Könntet ihr bitte einen Dark Mode für das Kundenportal einbauen?",
)
CSV = (
    "Rechnungen als CSV exportieren",
    "Ich hätte gern die Möglichkeit, meine Rechnungen als CSV zu exportieren.",
)
TWO_FACTOR = ("Two-factor login", "Please add two-factor authentication to the login")
MAILBOX = ("Mehr Speicherplatz im Postfach", "Bitte mehr Speicherplatz für mein Postfach")
SAME_WISH = [
    (
        DARK,
        ("Dark Mode für das Kundenportal", "Gibt es bald einen dunklen Modus (Dark Mode) im Kundenportal?"),
    ),
    (DARK, ("Feature-Wunsch: Dark Mode", "Bitte einen Dark Mode im Portal!")),
    (DARK, ("Dark mode for the portal", "Please add a dark mode to the customer portal")),
    (TWO_FACTOR, ("2FA", "Do you plan two-factor authentication for the customer login?")),
    (CSV, ("CSV-Export", "Bitte einen CSV-Export für Rechnungen")),
    (MAILBOX, ("Postfach zu klein", "Könnt ihr das Postfach größer machen, mehr Speicherplatz bitte")),
]
OTHER_WISH = [
    (DARK, CSV),
    (TWO_FACTOR, ("Dark mode for the portal", "Please add a dark mode to the customer portal")),
    (MAILBOX, ("Mehr Postfächer im Tarif", "Bitte mehr Postfächer im Basistarif")),
]


@pytest.mark.parametrize(("one", "other"), SAME_WISH)
def test_the_same_wish_in_other_words_reads_alike(one, other) -> None:
    assert similarity(request_text(*one), request_text(*other)) >= 65  # [features] similarity


@pytest.mark.parametrize(("one", "other"), OTHER_WISH)
def test_different_wishes_do_not(one, other) -> None:
    assert similarity(request_text(*one), request_text(*other)) < 65


def test_known_limit_wishes_that_differ_in_one_word_read_alike() -> None:
    """Documented in docs/triage.md: agents fix such a case with `mark-feature --to/--new`."""
    pdf = ("Export als PDF", "Bitte Rechnungen als PDF exportieren")
    assert similarity(request_text(*CSV), request_text(*pdf)) >= 65


def test_request_text_keeps_the_words_that_describe_the_wish() -> None:
    darker = request_text(
        "AW: [Ticket#10009] Dark Mode", "> zitiert\nGibt es bald einen Dark Mode im Kundenportal?"
    )
    assert request_text(*DARK).split()[:3] == ["dark", "mode", "kundenportal"]
    assert darker == "dark mode dark mode kundenportal"  # no reply prefix, tag, quote or filler words
