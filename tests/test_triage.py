"""Triage: routing by address and rules, priorities, due times, follow-ups,
explain, the urgency-sorted ticket list, escalation and the config checks."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from conftest import make_mail
from postdesk.config import ConfigError, load_settings
from postdesk.pipeline import STAGES
from postdesk.store.models import Contact, Inbound, Outbox, Ticket, TriageEvent
from postdesk.store.queries import list_tickets
from triage_support import AGENTS, ISSUE_RULES, add_ticket, configure, migrated_store, process, settings_from

BERLIN = ZoneInfo("Europe/Berlin")
# A Tuesday at 10:00 in Berlin: inside the support queue's hours.
TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=BERLIN)


@pytest.fixture
def store(tmp_path: Path, databases):
    yield from migrated_store(databases.url(tmp_path, "triage"))


def ticket_of(store, work) -> Ticket:
    with store.transaction() as session:
        ticket = session.get_one(Ticket, work.ticket_id)
        session.expunge(ticket)
        return ticket


def steps_of(store, ticket_id: int) -> list[tuple[str, str, str]]:
    """Triage's steps; the language decision recorded beside them is tests/test_language.py's."""
    with store.transaction() as session:
        rows = session.execute(
            select(TriageEvent.step, TriageEvent.name, TriageEvent.detail)
            .where(TriageEvent.ticket_id == ticket_id, TriageEvent.step != "language")
            .order_by(TriageEvent.id)
        ).all()
    return [tuple(row) for row in rows]


def test_german_locked_out_mail_is_urgent_and_due_in_an_hour_of_support_time(store) -> None:
    settings = settings_from(ISSUE_RULES)
    mail = make_mail(subject="Hilfe!", body="Hallo,\nich komme nicht mehr an meine E-Mails.\nKim\n")
    work = process(store, settings, mail, TUESDAY)
    ticket = ticket_of(store, work)
    assert (ticket.priority, ticket.queue, ticket.level) == ("urgent", "support", 1)
    assert ticket.first_response_due == TUESDAY + timedelta(hours=1)
    steps = steps_of(store, ticket.id)
    assert steps[0] == ("address", "support@example.com", "mail to support@example.com → queue support")
    assert steps[1][:2] == ("rule", "locked-out") and 'words "komme nicht mehr"' in steps[1][2]
    assert steps[1][2].endswith("→ priority urgent")
    assert steps[2][0] == "sla" and "2026-11-24 11:00 CET" in steps[2][2]


def test_friday_evening_urgent_mail_is_due_monday_morning(store) -> None:
    settings = settings_from(ISSUE_RULES)
    friday = datetime(2026, 10, 23, 17, 30, tzinfo=BERLIN)  # the weekend the clocks go back
    work = process(store, settings, make_mail(subject="I am locked out", body="Help.\n"), friday)
    assert ticket_of(store, work).first_response_due == datetime(2026, 10, 26, 8, 30, tzinfo=BERLIN)


def test_invoice_question_lands_in_billing_around_the_clock(store) -> None:
    settings = settings_from(ISSUE_RULES)
    saturday = datetime(2026, 11, 28, 23, 0, tzinfo=BERLIN)
    mail = make_mail(subject="Frage zu meiner Rechnung vom Oktober", body="Warum ist der Betrag höher?\n")
    ticket = ticket_of(store, process(store, settings, mail, saturday))
    assert (ticket.queue, ticket.priority) == ("billing", "normal")
    assert ticket.first_response_due == saturday + timedelta(hours=24)  # billing has no hours: 24/7
    assert ("rule", "invoices-to-billing") in [s[:2] for s in steps_of(store, ticket.id)]


def test_address_routing_and_a_management_address_that_rules_cannot_move(store) -> None:
    settings = settings_from(ISSUE_RULES)
    to_billing = make_mail(to="rechnung@example.com", subject="Adresse ändern", body="Neue Adresse.\n")
    work = process(store, settings, to_billing, TUESDAY, recipients=("rechnung+x@example.com",))
    assert ticket_of(store, work).queue == "billing"
    complaint = make_mail(to="management@example.com", subject="Beschwerde: Rechnung falsch", body="Ärger.\n")
    work = process(store, settings, complaint, TUESDAY, recipients=("management@example.com",))
    assert ticket_of(store, work).queue == "management"
    [rule] = [s for s in steps_of(store, work.ticket_id) if s[0] == "rule"]
    assert "queue billing ignored: mail to management@example.com stays in management" in rule[2]


def test_urgent_flag_and_vip_raise_the_priority(store) -> None:
    settings = settings_from(ISSUE_RULES)

    def mark_urgent(work, env):
        return replace(work, urgent=True)

    at = [name for name, _ in STAGES].index("triage")
    stages = [*STAGES[:at], ("voicemail-says-urgent", mark_urgent), *STAGES[at:]]
    work = process(
        store, settings, make_mail(subject="Rückruf", body="Bitte zurückrufen.\n"), TUESDAY, stages=stages
    )
    assert ticket_of(store, work).priority == "urgent"
    assert ("urgent", "", "the sender marked it urgent → priority urgent") in steps_of(store, work.ticket_id)

    with store.transaction() as session:
        session.add(Contact(email="boss@bigcustomer.example", name="", created_at=TUESDAY, vip=True))
    vip_mail = make_mail(sender="Boss <boss@bigcustomer.example>", subject="Frage", body="Eine Frage.\n")
    ticket = ticket_of(store, process(store, settings, vip_mail, TUESDAY))
    assert ticket.priority == "high" and ticket.first_response_due == TUESDAY + timedelta(hours=4)


def test_a_follow_up_can_raise_the_priority_but_quoted_words_cannot(store) -> None:
    settings = settings_from(ISSUE_RULES)
    first = make_mail(subject="Frage zum Tarif", body="Welcher Tarif passt?\n")
    opened = process(store, settings, first, TUESDAY)
    assert ticket_of(store, opened).priority == "normal"

    quoting = make_mail(
        subject="Re: [Ticket#10001] Frage zum Tarif", body="Danke!\n\n> komme nicht mehr rein\n"
    )
    quoting["In-Reply-To"] = first["Message-ID"]
    later = TUESDAY + timedelta(hours=1)
    process(store, settings, quoting, later)
    assert ticket_of(store, opened).priority == "normal"

    urgent = make_mail(subject="Re: Frage zum Tarif", body="Jetzt komme nicht mehr in mein Konto!\n")
    urgent["In-Reply-To"] = first["Message-ID"]
    work = process(store, settings, urgent, later)
    assert work.ticket_id == opened.ticket_id
    ticket = ticket_of(store, opened)
    # Urgent from now on; the first answer is due an hour of support time after the ticket was opened.
    assert (ticket.priority, ticket.queue) == ("urgent", "support")
    assert ticket.first_response_due == TUESDAY + timedelta(hours=1)
    follow = [s for s in steps_of(store, ticket.id) if s[0] == "follow-up"]
    assert "priority normal → urgent" in follow[0][2]


def test_bounces_get_no_due_time(store) -> None:
    settings = settings_from(ISSUE_RULES)
    bounce = make_mail(
        sender="MAILER-DAEMON <mailer-daemon@mx.example>", subject="Undelivered Mail Returned", body="x\n"
    )
    ticket = ticket_of(store, process(store, settings, bounce, TUESDAY))
    assert ticket.first_response_due is None


def test_list_sorts_by_urgency_and_filters(store) -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    with store.transaction() as session:
        late = add_ticket(session, now - timedelta(hours=30), subject="late normal")
        answered = add_ticket(
            session, now - timedelta(hours=30), subject="answered", answered_after=timedelta(hours=1)
        )
        add_ticket(
            session,
            now - timedelta(hours=1),
            priority="urgent",
            due_after=timedelta(hours=2),
            subject="urgent",
        )
        add_ticket(session, now - timedelta(hours=2), priority="low", subject="low", queue="billing")
        add_ticket(
            session, now - timedelta(hours=1), priority="high", due_after=timedelta(hours=4), subject="high"
        )
        session.get_one(Ticket, answered.id).level = 2
        late_id = late.id
    with store.transaction() as session:
        rows = list_tickets(session, now=now)
        assert [r["subject"] for r in rows] == ["urgent", "high", "late normal", "answered", "low"]
        overdue = list_tickets(session, only_overdue=True, now=now)
        assert [r["id"] for r in overdue] == [late_id] and overdue[0]["overdue"] is True
        assert [r["subject"] for r in list_tickets(session, queue="billing", now=now)] == ["low"]
        assert [r["subject"] for r in list_tickets(session, level=2, now=now)] == ["answered"]
        assert [r["subject"] for r in list_tickets(session, sort="newest", now=now)][0] == "high"


def read_outbox(store) -> list[tuple[list[str], email.message.EmailMessage]]:
    with store.transaction() as session:
        rows = session.execute(
            select(Outbox).where(Outbox.kind == "escalation_notice").order_by(Outbox.id)
        ).scalars()
        return [
            (row.recipients, email.message_from_bytes(row.raw, policy=email.policy.default)) for row in rows
        ]


def test_escalation_walks_up_the_levels_to_management_and_notifies_agents(make_desk) -> None:
    desk = make_desk()
    configure(desk, ISSUE_RULES + AGENTS + '\n[triage]\nmanagement_queue = "management"\n')
    desk.run("db", "upgrade")
    desk.run(
        "mailgate", "--recipient", "support@example.com", input=make_mail(subject="Server kaputt").as_bytes()
    )
    desk.run("process", "--once")

    out = desk.run("tickets", "escalate", "10001", "--reason", "braucht Admin-Rechte").stdout.decode()
    assert "level 2 in queue support; notified bert@example.com" in out
    [(recipients, notice)] = read_outbox(desk.store)
    assert recipients == ["bert@example.com"]
    assert notice["Subject"] == "[Ticket#10001] Eskaliert an Level 2 (support): Server kaputt"
    assert notice["Auto-Submitted"] == "auto-generated"
    body = notice.get_content()
    assert (
        "braucht Admin-Rechte" in body and "kim@customer.example" in body and "> Ich komme nicht mehr" in body
    )

    out = desk.run("tickets", "escalate", "10001").stdout.decode()
    assert "level 3 in queue support; notified nobody" in out
    out = desk.run("tickets", "escalate", "10001").stdout.decode()
    assert "level 3 in queue management; notified chef@example.com" in out
    refused = desk.run("tickets", "escalate", "10001", check=False)
    assert refused.returncode == 1 and b"already at management" in refused.stderr

    explained = desk.json("triage", "explain", "10001")
    escalations = [s["detail"] for s in explained["steps"] if s["step"] == "escalate"]
    assert escalations[0].startswith("level 1 in support → level 2 in support; notified bert@example.com")
    assert explained["queue"] == "management" and explained["level"] == 3
    # Escalation notices are not answers: the ticket still waits for its first response.
    [row] = desk.json("tickets", "list")
    assert row["overdue"] is False and row["first_response_due"]


def test_rules_prioritise_and_route_end_to_end(make_desk) -> None:
    """Over SMTP against `postdesk serve`: the list comes out urgent first, explain says why,
    and on a desk without history the acknowledgement promises no response time."""
    desk = make_desk()
    configure(desk, ISSUE_RULES.replace('hours = "Mo-Fr 08:00-18:00"', ""))  # no dependence on the clock
    desk.start()
    desk.send(make_mail(sender="Bea <bea@customer.example>", subject="Frage zur Rechnung", body="Zu hoch?\n"))
    desk.send(make_mail(subject="Ich komme nicht mehr an meine E-Mails", body="Seit heute früh.\n"))
    desk.send(
        make_mail(
            sender="Carl <carl@customer.example>",
            to="management@example.com",
            subject="Beschwerde",
            body="Unzufrieden.\n",
        ),
        sender="carl@customer.example",
        recipients=("management@example.com",),
    )

    def processed() -> bool:
        with desk.store.transaction() as session:
            done = select(func.count()).select_from(Inbound).where(Inbound.status == "done")
            return session.execute(done).scalar_one() == 3

    desk.wait_until(processed, what="3 mails processed")
    rows = desk.json("tickets", "list")
    assert [(r["subject"], r["priority"], r["queue"], r["level"]) for r in rows] == [
        ("Ich komme nicht mehr an meine E-Mails", "urgent", "support", 1),
        ("Frage zur Rechnung", "normal", "billing", 1),
        ("Beschwerde", "normal", "management", 1),
    ]
    assert all(r["first_response_due"] and r["overdue"] is False for r in rows)
    assert [r["subject"] for r in desk.json("tickets", "list", "--queue", "billing")] == [
        "Frage zur Rechnung"
    ]
    assert desk.json("tickets", "list", "--overdue") == []

    urgent = rows[0]["number"]
    text = desk.run("triage", "explain", urgent).stdout.decode()
    assert "priority urgent, queue support, level 1" in text
    assert "locked-out" in text and 'words "komme nicht mehr"' in text
    table = desk.run("tickets", "list").stdout.decode().splitlines()
    assert "PRIO" in table[0] and table[1].split()[:3] == [urgent, "urgent", "support"]

    desk.wait_until(lambda: len(desk.outbox_files()) == 3, what="3 acknowledgements")
    for path in desk.outbox_files():
        body = (
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default).get_body().get_content()
        )
        assert "beantworten wir zurzeit" not in body and "nicht im Dienst" not in body


def test_contacts_set_vip_by_command(make_desk) -> None:
    desk = make_desk()
    desk.run("db", "upgrade")
    assert desk.run("contacts", "set-vip", "Boss@BigCustomer.example").stdout.decode().strip() == (
        "boss@bigcustomer.example: VIP"
    )
    [contact] = desk.json("contacts", "list", "--vip")
    assert contact["email"] == "boss@bigcustomer.example" and contact["vip"] is True
    desk.run("contacts", "set-vip", "boss@bigcustomer.example", "--off")
    assert desk.json("contacts", "list", "--vip") == []


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[[queues]]\nname = "support"\nhours = "Mo-Fr 8-18"\n',
            "[queues.0] hours: expected opening hours like",
        ),
        (
            '[[queues]]\nname = "support"\ntimezone = "Berlin"\n',
            "[queues.0] timezone: expected an IANA timezone",
        ),
        (
            '[[queues]]\nname = "support"\n[[triage.rules]]\nname = "x"\nmatch = { any_words = ["a"] }\n'
            'set = { queue = "sales" }\n',
            "[[triage.rules]] 'x' set.queue: no queue 'sales' (queues: support)",
        ),
        (
            '[[queues]]\nname = "a"\naddresses = ["x@example.com"]\n[[queues]]\nname = "b"\n'
            'addresses = ["X@example.com"]\n',
            "an address leads to two queues",
        ),
        (
            '[[triage.rules]]\nname = "x"\nmatch = {}\nset = { priority = "urgent" }\n',
            "a rule needs at least one",
        ),
        (
            '[[triage.rules]]\nname = "x"\nmatch = { subject_regex = "(" }\nset = {}\n',
            "not a valid regular expression",
        ),
        (
            '[[triage.rules]]\nname = "x"\nmatch = { senders = ["@x.org"] }\nset = { priority = "asap" }\n',
            "Input should be 'low', 'normal', 'high' or 'urgent'",
        ),
        ('[sla]\nfirst_response = { urgent = "soon" }\n', "[sla.first_response] urgent: expected a duration"),
        (
            '[[agents]]\nemail = "anna@example.com"\nqueues = ["sales"]\n',
            "[[agents]] anna@example.com queues",
        ),
        ('[triage]\nmanagement_queue = "boss"\n', "[triage] management_queue: no queue 'boss'"),
    ],
)
def test_bad_triage_config_gets_one_clear_line(tmp_path: Path, toml: str, expected: str) -> None:
    path = tmp_path / "postdesk.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as error:
        load_settings(path, {})
    assert expected in str(error.value)


def test_queue_addresses_are_the_desks_own() -> None:
    settings = settings_from(ISSUE_RULES)
    assert "rechnung@example.com" in settings.own_addresses
    assert (
        settings.queue("billing").timezone == "UTC" and settings.queue("support").hours == "Mo-Fr 08:00-18:00"
    )
    assert settings.queue("unconfigured").business_hours().always_open
