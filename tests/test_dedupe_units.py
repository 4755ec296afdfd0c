"""Dedupe units: normalisation, scoring, each default rule, the index, rule config errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from corpus import corpus_dir
from postdesk.config import ConfigError, load_settings
from postdesk.config.model import DEFAULT_DEDUPE_RULES, DedupeRule
from postdesk.dedupe.index import CandidateIndex, Entry, proposed
from postdesk.dedupe.normalise import identifiers, normalise_body, normalise_mail, normalise_subject
from postdesk.dedupe.rules import decide, score_pair
from postdesk.parse.mime import parse_mail

SAME_SENDER, CLUSTER = DEFAULT_DEDUPE_RULES
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_subject_loses_prefixes_tags_and_urgency() -> None:
    assert normalise_subject("AW: WG: DRINGEND: Passwort vergessen [Ticket#10001]") == "passwort vergessen"
    assert normalise_subject("Re: [Support#12] URGENT!!! Reminder: Invoice RE-123456", "Support#") == (
        "invoice re-123456"
    )


def test_body_loses_greeting_closing_signature_and_chasing() -> None:
    text = (
        "Sehr geehrte Damen und Herren,\n\nich habe bereits zweimal geschrieben und keine Antwort erhalten!\n"
        "Mein Postfach ist voll.\n\nMit freundlichen Grüßen\nKim Kunde\nTel. 030 1234567\n"
    )
    assert normalise_body(text) == "mein postfach ist voll"
    assert normalise_body("Hi there I have a problem with my login.\nThanks\nKim") == (
        "hi there i have a problem with my login"
    )


def test_german_quote_is_split_off_and_kept_apart() -> None:
    mail = normalise_mail(
        "AW: Rechnung falsch",
        "Hallo,\n\ngibt es schon etwas Neues?\n\nViele Grüße\nKim\n\n"
        "Am 20.11.2026 um 09:12 schrieb Kim <kim@example.net>:\n> Hallo,\n>\n> die Rechnung ist zu hoch.\n",
    )
    assert mail.body == "gibt es schon etwas neues"
    assert mail.quoted == "die rechnung ist zu hoch"


def test_forwarded_mail_becomes_the_quoted_part() -> None:
    mail = normalise_mail(
        "Fwd: Mailbox full",
        "Any news on this?\n\n---------- Forwarded message ---------\nFrom: Kim <kim@example.net>\n"
        "Date: Mon, 23 Nov 2026\nSubject: Mailbox full\nTo: support@example.com\n\n"
        "Hello,\n\nmy mailbox is full.\n\nKind regards\nKim\n",
    )
    assert mail.subject == "mailbox full"
    assert mail.body == "any news on this"
    assert mail.quoted == "my mailbox is full"


def test_outlook_original_message_block() -> None:
    mail = normalise_mail(
        "AW: Kündigung",
        "Bitte bestätigen!\n\n-----Ursprüngliche Nachricht-----\nVon: Kim\nGesendet: Montag\n"
        "An: support@example.com\nBetreff: Kündigung\n\nIch kündige den Vertrag 4711234.\n",
    )
    assert mail.body == "bitte bestätigen"
    assert "vertrag 4711234" in mail.quoted


def test_identifiers_are_numbers_not_dates_domains_or_addresses() -> None:
    found = identifiers(
        "Rechnung RE-2024-1234, Kunde 4711, Fehler 535, am 23.11.2026 um 10:00, "
        "shop24.example, kim2@x.example"
    )
    assert found == {"re-2024-1234", "4711", "535"}


def test_talon_replies_normalise_like_their_expected_text() -> None:
    """The normalised new text of talon's replies equals the normalised expected reply text."""
    fixtures = corpus_dir() / "talon" / "tests" / "fixtures" / "standard_replies"
    cases = sorted(fixtures.glob("*.eml"))
    misses = []
    for path in cases:
        expected_path = path.with_name(path.stem + "_reply_text")
        want = expected_path.read_text().strip() if expected_path.exists() else "Hello"
        mail = parse_mail(path.read_bytes())
        got = normalise_mail(mail.subject, mail.text).body
        # talon keeps "Sent from my iPhone" in the reply; our normalisation drops the signature.
        if got != normalise_body(want) and not normalise_body(want).startswith(got):
            misses.append((path.name, got[:60], normalise_body(want)[:60]))
    print(f"\ntalon: {len(cases) - len(misses)}/{len(cases)} normalised as expected; misses: {misses}")
    assert cases and len(misses) <= len(cases) * 0.2, misses


def _entry(number: int, sender: str, subject: str, text: str, hours_ago: float = 1) -> Entry:
    return Entry(
        number, 10000 + number, sender, NOW - timedelta(hours=hours_ago), normalise_mail(subject, text)
    )


def _decide(rule: DedupeRule, entries: list[Entry], sender: str, subject: str, text: str):  # type: ignore[no-untyped-def]
    index = CandidateIndex(rule.window_delta)
    for entry in entries:
        index.add(entry)
    new = normalise_mail(subject, text)
    return decide(new, sender, NOW, [rule], lambda r: proposed(index, r, new, sender, NOW))


def test_same_sender_rule_merges_an_urgent_repeat() -> None:
    earlier = _entry(
        1, "kim@x.example", "Passwort vergessen", "Hallo,\nich habe mein Passwort vergessen.\nGruß Kim"
    )
    decision = _decide(
        SAME_SENDER,
        [earlier],
        "kim@x.example",
        "DRINGEND: Passwort vergessen",
        "Hallo,\nich warte immer noch auf eine Antwort!\nIch habe mein Passwort vergessen!!!\nKim",
    )
    assert decision.action == "merge" and decision.ticket_id == 10001 and decision.rule == SAME_SENDER.name


def test_same_sender_rule_keeps_a_different_concern_apart() -> None:
    earlier = _entry(
        1,
        "kim@x.example",
        "Passwort vergessen",
        "Hallo,\nich habe mein Passwort vergessen und komme nicht ins Kundenkonto.\nGruß Kim",
    )
    decision = _decide(
        SAME_SENDER,
        [earlier],
        "kim@x.example",
        "Passwort ändern",
        "Hallo,\nwie kann ich das Passwort meines Postfachs ändern?\nGruß Kim",
    )
    assert decision.action == "new"
    assert decision.candidates[0].verdict == "below threshold"


def test_same_sender_rule_never_merges_another_senders_mail() -> None:
    earlier = _entry(1, "kim@x.example", "Passwort vergessen", "Ich habe mein Passwort vergessen.")
    decision = _decide(
        SAME_SENDER, [earlier], "jo@y.example", "Passwort vergessen", "Ich habe mein Passwort vergessen."
    )
    assert decision.action == "new" and decision.candidates == ()


def test_same_sender_rule_ignores_mail_outside_its_window() -> None:
    earlier = _entry(
        1, "kim@x.example", "Passwort vergessen", "Ich habe mein Passwort vergessen.", hours_ago=80
    )
    decision = _decide(
        SAME_SENDER, [earlier], "kim@x.example", "Passwort vergessen", "Ich habe mein Passwort vergessen."
    )
    assert decision.action == "new"


def test_different_invoice_numbers_are_different_concerns() -> None:
    score, verdict = score_pair(
        SAME_SENDER,
        normalise_mail("Rechnung RE-100200 falsch", "Die Rechnung RE-100200 ist zu hoch."),
        normalise_mail("Rechnung RE-100300 falsch", "Die Rechnung RE-100300 ist zu hoch."),
    )
    assert score == 0 and verdict.startswith("different numbers")


def test_cluster_rule_links_other_customers_describing_the_same_outage() -> None:
    earlier = [
        _entry(
            1,
            "a@x.example",
            "Webseite nicht erreichbar",
            "Hallo,\nmeine Webseite ist seit heute morgen nicht erreichbar, Fehler 503. Störung?\nGruß A",
        ),
        _entry(2, "b@y.example", "Rechnung falsch", "Hallo,\ndie Rechnung RE-123456 ist zu hoch.\nGruß B"),
    ]
    decision = _decide(
        CLUSTER,
        earlier,
        "c@z.example",
        "Website nicht erreichbar - Störung?",
        "Guten Tag,\nunsere Webseite ist nicht erreichbar, nur Fehler 503. Gibt es eine Störung?\nC",
    )
    assert decision.action == "cluster" and decision.ticket_id == 10001


def test_flag_action_is_decided_like_the_others() -> None:
    flag = DedupeRule(name="flag-similar", scope="anyone", window="24h", threshold=60, action="flag")
    earlier = [_entry(1, "a@x.example", "Server down", "The server web01 is down since 9:00, error 503.")]
    decision = _decide(
        flag, earlier, "b@y.example", "Server down?", "Is the server web01 down? I get error 503."
    )
    assert decision.action == "flag" and decision.rule == "flag-similar"


def test_index_blocks_on_rare_words_and_expires() -> None:
    index = CandidateIndex(timedelta(hours=24))
    for number in range(200):
        index.add(
            _entry(number + 1, f"c{number}@x.example", "Frage", f"Allgemeine Frage Nummer {number} zum Tarif")
        )
    index.add(
        _entry(
            500, "a@x.example", "Zertifikat abgelaufen", "Das SSL-Zertifikat von shop.example ist abgelaufen"
        )
    )
    new = normalise_mail("SSL Zertifikat", "Unser SSL-Zertifikat ist abgelaufen, bitte erneuern")
    assert [e.id for e in index.similar(new, NOW - timedelta(hours=24))] == [500]
    index.expire(NOW + timedelta(hours=24))
    assert len(index) == 0 and index.similar(new, NOW) == []


def _load(tmp_path: Path, rules: str) -> str:
    path = tmp_path / "postdesk.toml"
    path.write_text(rules)
    with pytest.raises(ConfigError) as error:
        load_settings(path, {})
    return str(error.value)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('scorer = "token_set_rati"', "rule 'r1': scorer: unknown rapidfuzz scorer"),
        ('scope = "everyone"', "rule 'r1': scope: Input should be 'same_sender' or 'anyone'"),
        ('window = "3 days"', "rule 'r1': window: expected a duration"),
        ("threshold = 120", "rule 'r1': threshold: Input should be less than or equal to 100"),
        ('action = "delete"', "rule 'r1': action: Input should be 'merge', 'cluster' or 'flag'"),
        ('fields = ["subject", "sender"]', "rule 'r1': fields.1: Input should be"),
        ("colour = 3", "rule 'r1': colour: unknown key"),
    ],
)
def test_invalid_rules_name_the_rule_and_the_key(tmp_path: Path, line: str, expected: str) -> None:
    message = _load(tmp_path, f'[[dedupe.rules]]\nname = "r1"\n{line}\n')
    assert expected in message, message
    assert message.count("\n") == 0


def test_merge_across_senders_and_repeated_names_are_refused(tmp_path: Path) -> None:
    message = _load(tmp_path, '[[dedupe.rules]]\nname = "r1"\nscope = "anyone"\naction = "merge"\n')
    assert "rule 'r1'" in message and "needs scope 'same_sender'" in message
    message = _load(tmp_path, '[[dedupe.rules]]\nname = "a"\n[[dedupe.rules]]\nname = "a"\n')
    assert "rule 'a': name: used by another rule" in message
    message = _load(tmp_path, '[[dedupe.rules]]\nscope = "anyone"\n')
    assert "rule #1: name: Field required" in message


def test_rules_from_config_replace_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "postdesk.toml"
    path.write_text(
        '[[dedupe.rules]]\nname = "same-sender-repeat"\nscope = "same_sender"\nwindow = "72h"\n'
        'fields = ["subject", "body"]\nscorer = "token_set_ratio"\nthreshold = 88\naction = "merge"\n'
    )
    rules = load_settings(path, {}).dedupe.rules
    assert [(r.name, r.threshold, r.window_delta) for r in rules] == [
        ("same-sender-repeat", 88, timedelta(hours=72))
    ]


def test_talon_signatures_without_a_closing_line_are_dropped() -> None:
    """talon's signature fixtures: the normalised body equals the normalised text above the signature."""
    fixtures = corpus_dir() / "talon" / "tests" / "fixtures" / "signature" / "emails" / "stripped"
    cases = sorted(fixtures.glob("*_body"))
    misses = []
    for path in cases:
        body = path.read_text()
        signature = path.with_name(path.name.replace("_body", "_signature")).read_text().replace("#sig#", "")
        # An empty expected signature: nothing is to be dropped.
        above = body[: body.rfind(signature.strip().splitlines()[0])] if signature.strip() else body
        if normalise_mail("", body).body != normalise_body(above):
            misses.append(path.name)
    print(f"\ntalon signatures: {len(cases) - len(misses)}/{len(cases)} dropped; misses: {misses}")
    assert cases and len(misses) <= len(cases) // 3, misses
