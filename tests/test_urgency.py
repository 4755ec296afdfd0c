"""The built-in urgency rules (issue 21.3): on a desk with no rules written, an outage
outranks a plain question, machine mail saying "urgent" stays normal; the rules are
listed with their source, replaced by name, turned off by config; a broken pattern is
one clear line."""

from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy import func, select

from conftest import Desk, make_mail
from postdesk.store.models import Inbound
from postdesk.triage.defaults import builtin_rules
from triage_support import configure

OUTAGE = make_mail(
    subject="DRINGEND: Server down",
    body="Hallo,\nunser Shop ist nicht erreichbar, wir verlieren jede Minute Umsatz.\nBitte sofort melden!\n",
)
PLAIN = "Frage zu Weiterleitungen"


def plain_question() -> EmailMessage:
    return make_mail(
        sender="Bea <bea@customer.example>", subject=PLAIN, body="Wie richte ich eine Weiterleitung ein?\n"
    )


def wait_done(desk: Desk, count: int) -> None:
    def done() -> bool:
        with desk.store.transaction() as session:
            query = select(func.count()).select_from(Inbound).where(Inbound.status == "done")
            return session.execute(query).scalar_one() == count

    desk.wait_until(done, what=f"{count} mails processed")


def out_of_office() -> EmailMessage:
    reply = make_mail(
        sender="Dora <dora@customer.example>",
        subject="Automatische Antwort: URGENT!!! Server down",
        body="I am out of the office. For anything urgent call +49 30 1234567 immediately.\n",
    )
    reply["Auto-Submitted"] = "auto-replied"
    return reply


def test_outage_outranks_a_plain_question_and_auto_replies_stay_normal(make_desk) -> None:
    desk = make_desk()  # the settings of `make run`: no [[triage.rules]] at all
    desk.start()
    desk.send(plain_question(), sender="bea@customer.example")
    desk.send(OUTAGE)
    desk.send(out_of_office(), sender="dora@customer.example")
    wait_done(desk, 3)

    rows = desk.json("tickets", "list")
    assert [r["subject"] for r in rows][:2] == ["DRINGEND: Server down", PLAIN]
    by_subject = {r["subject"]: r for r in rows}
    assert by_subject["DRINGEND: Server down"]["priority"] == "urgent"
    assert by_subject[PLAIN]["priority"] == "normal"
    assert all(r["priority"] == "normal" for r in rows if r["subject"].startswith("Automatische"))

    number = str(by_subject["DRINGEND: Server down"]["number"])
    explained = desk.run("triage", "explain", number).stdout.decode()
    assert "outage" in explained and 'words "server down"' in explained
    assert "explicit-urgency" in explained and 'text "DRINGEND"' in explained
    shown = desk.run("tickets", "show", number).stdout.decode()
    assert "priority urgent" in shown and "rule outage:" in shown
    steps = desk.json("tickets", "show", number)["priority_by"]
    assert {"outage", "explicit-urgency"} <= {s["name"] for s in steps}


def test_a_bounce_that_quotes_urgent_words_stays_normal(make_desk) -> None:
    desk = make_desk()
    desk.start()
    bounce = make_mail(
        sender="Mail Delivery System <MAILER-DAEMON@mx.customer.example>",
        subject="Undelivered Mail Returned to Sender",
        body="This is the mail system at host mx.customer.example.\n\n"
        "I'm sorry to have to inform you that your message could not be delivered.\n\n"
        "Subject: DRINGEND: Server down, Shop nicht erreichbar\n",
    )
    desk.send(bounce, sender="")
    wait_done(desk, 1)
    assert all(r["priority"] == "normal" for r in desk.json("tickets", "list"))


def test_spam_shouting_urgent_is_filed_as_spam_not_ranked(make_desk) -> None:
    desk = make_desk()
    desk.start()
    spam = make_mail(
        sender="Lottery <win@prize.example>",
        subject="URGENT!!! Your account is locked, act now",
        body="URGENT!!! Your account has been hacked, confirm your password asap: http://prize.example/\n",
        **{"X-Spam-Flag": "YES"},
    )
    desk.send(spam, sender="win@prize.example")
    wait_done(desk, 1)
    assert desk.json("tickets", "list") == [], "spam is out of the agents' list"
    [row] = desk.json("tickets", "list", "--status", "spam")
    assert row["priority"] == "normal" and not desk.outbox_files()


def test_quoted_thread_and_signature_do_not_make_a_mail_urgent(make_desk) -> None:
    desk = make_desk()
    desk.start()
    mail = make_mail(
        subject="Frage zur Rechnung",
        body="Hallo,\nwie kann ich die Rechnung als PDF bekommen?\n\nViele Grüße\nKim\n"
        "-- \nKim Kunde, IT-Notfall-Hotline: dringend? sofort anrufen!\n\n"
        "Am 01.12.2026 schrieb Support <support@example.com>:\n"
        "> Server down? Ausfall? Wir helfen dringend.\n",
    )
    desk.send(mail)
    wait_done(desk, 1)
    [row] = desk.json("tickets", "list")
    assert row["priority"] == "normal"


def test_rules_are_listed_replaced_by_name_and_turned_off(make_desk) -> None:
    desk = make_desk()
    rules = desk.json("triage", "rules")
    names = [r["name"] for r in rules]
    assert names == [rule.name for rule in builtin_rules()]
    assert {"outage", "locked-out", "security-incident", "explicit-urgency"} <= set(names)
    assert all(r["source"] == "built-in" and r["file"] == "" for r in rules)

    configure(
        desk,
        '\n[[triage.rules]]\nname = "explicit-urgency"\n'
        'match = { any_words = ["brennt"] }\nset = { priority = "urgent" }\n',
    )
    rules = desk.json("triage", "rules")
    [replaced] = [r for r in rules if r["name"] == "explicit-urgency"]
    assert replaced == {
        "name": "explicit-urgency",
        "source": "config",
        "file": str(desk.config),
        "match": {"any_words": ["brennt"]},
        "set": {"priority": "urgent"},
    }
    assert rules[0] is not None and rules[0]["name"] == "explicit-urgency"  # the config's come first
    assert len(rules) == len(builtin_rules())
    text = desk.run("triage", "rules").stdout.decode()
    assert f"explicit-urgency  (config {desk.config})  → priority urgent" in text
    assert "outage  (built-in)  → priority urgent" in text

    desk.start()
    desk.send(make_mail(subject="Es brennt", body="Bitte melden.\n"))
    desk.send(make_mail(sender="Bea <bea@customer.example>", subject="Dringend", body="Eine Frage.\n"))
    wait_done(desk, 2)
    priorities = {r["subject"]: r["priority"] for r in desk.json("tickets", "list")}
    assert priorities == {"Es brennt": "urgent", "Dringend": "normal"}


def test_default_rules_false_turns_them_off(make_desk) -> None:
    desk = make_desk({"triage": {"default_rules": False}})
    assert desk.json("triage", "rules") == []
    assert "no triage rules" in desk.run("triage", "rules").stdout.decode()
    desk.start()
    desk.send(OUTAGE)
    wait_done(desk, 1)
    [row] = desk.json("tickets", "list")
    assert row["priority"] == "normal"


def test_a_broken_pattern_is_one_line_naming_file_and_key(make_desk) -> None:
    desk = make_desk()
    configure(
        desk,
        '\n[[triage.rules]]\nname = "broken"\nmatch = { text_regex = "(server" }\n'
        'set = { priority = "high" }\n',
    )
    result = desk.run("triage", "rules", check=False)
    assert result.returncode != 0
    [line] = result.stderr.decode().strip().splitlines()
    assert str(desk.config) in line and "[triage.rules.0.match] text_regex" in line
    assert "not a valid regular expression" in line
