"""Hidden HTML text is not part of a mail's text (issue 16.7): an HTML-only
mail's `display:none`, `visibility:hidden` and zero-size text is neither
quoted in the acknowledgement nor shown to agents; the raw mail keeps it."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from conftest import Desk, make_mail
from postdesk.parse.hidden import is_hidden_style
from postdesk.parse.mime import parse_mail
from test_desk_e2e import wait_for_outbox, wait_processed

VISIBLE = "Mein Konto ist gesperrt, bitte helfen Sie mir."
HIDDEN = ("Gratis-Gewinn", "phish.example", "Kryptobonus", "unsichtbar klein")


def html_only_mail() -> EmailMessage:
    message = make_mail(subject="Konto gesperrt")
    message.set_content(
        "<html><head><style>p { color: black }</style></head><body>"
        f"<p>{VISIBLE}</p>"
        '<div style="display:none">Gratis-Gewinn: <a href="https://phish.example/x">phish.example</a>'
        '<span style="display:inline">auch drin</span></div>'
        '<p style="color: red; VISIBILITY: hidden !important">Kryptobonus</p>'
        '<span style="font-size:0px">unsichtbar klein</span>'
        '<p style="display: none; display: block">Danke!</p>'
        "<p hidden>ebenso versteckt</p>"
        "</body></html>",
        subtype="html",
    )
    return message


def test_hidden_html_text_is_left_out_of_the_text_and_kept_in_the_raw_mail() -> None:
    raw = html_only_mail().as_bytes()
    mail = parse_mail(raw)
    assert VISIBLE in mail.text and "Danke!" in mail.text  # the last declaration wins: shown
    assert not [word for word in (*HIDDEN, "auch drin", "ebenso versteckt") if word in mail.text], mail.text
    assert "HTML in body: 4 hidden element(s) left out of the text" in mail.defects
    assert b"Gratis-Gewinn" in raw


@pytest.mark.parametrize(
    ("style", "hidden"),
    [
        ("display:none", True),
        ("/* a comment */ display : /* b */ NONE", True),
        ("visibility: collapse", True),
        ("font-size: 0", True),
        ("font-size: 0.0em !important", True),
        ("font-size: 0%", True),
        ("display:none; display:block", False),
        ("font-size: 1px", False),
        ("display: inline-block; color: white", False),
        ("display:", False),
        ("}{ garbage ;;", False),
    ],
)
def test_inline_styles_that_hide(style: str, hidden: bool) -> None:
    assert is_hidden_style(style) is hidden


def test_the_acknowledgement_does_not_quote_hidden_html_text(desk: Desk) -> None:
    desk.send(html_only_mail())
    wait_processed(desk, 1)
    [ack] = wait_for_outbox(desk, 1)
    body = ack.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert VISIBLE in text, text  # the acknowledgement does quote what the customer wrote
    assert not [word for word in HIDDEN if word in text], text

    [ticket] = desk.json("tickets", "list")
    shown = desk.run("tickets", "show", ticket["number"]).stdout.decode()
    assert VISIBLE in shown and not [word for word in HIDDEN if word in shown], shown
    assert b"Gratis-Gewinn" in desk.run("inbound", "show", "1", "--raw").stdout
