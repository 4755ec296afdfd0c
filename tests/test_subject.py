"""The one subject-prefix rule (parse.subject): what every part of the desk strips or reads."""

from __future__ import annotations

import pytest

from postdesk.parse.subject import is_forward, without_prefixes


@pytest.mark.parametrize(
    ("subject", "about"),
    [
        ("Re: Passwort", "Passwort"),
        ("AW: WG: Re: Passwort", "Passwort"),
        ("Re[2]: Passwort", "Passwort"),
        ("SV: VS: Antw: Wtr: Passwort", "Passwort"),
        ("RE: [Ticket#10001] Passwort", "Passwort"),
        ("[list] Fwd: TR: RV: Passwort", "Passwort"),
        ("Passwort Re: vergessen", "Passwort Re: vergessen"),
        ("I: need help", "I: need help"),
        ("Reply needed", "Reply needed"),
    ],
)
def test_without_prefixes_leaves_what_the_mail_is_about(subject: str, about: str) -> None:
    assert without_prefixes(subject) == about


@pytest.mark.parametrize(
    ("subject", "forward"),
    [("Fwd: x", True), ("WG: x", True), ("I: x", True), ("tr : x", True), ("Re: x", False), ("Fwdx", False)],
)
def test_is_forward(subject: str, forward: bool) -> None:
    assert is_forward(subject) is forward
