"""Agents by email, end to end over SMTP: notifications, replies, commands, forged mail."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from agents_support import (
    ANNA,
    BERT,
    KIM,
    kinds,
    mail_to,
    messages,
    processed,
    reply_to,
    start_agent_desk,
    ticket,
    wait_mail_to,
)
from conftest import make_mail
from postdesk.store.models import Ticket
from postdesk.threads.tokens import AGENT, make_token, reply_address


@pytest.fixture
def agent_desk(make_desk):
    return start_agent_desk(make_desk())


def open_ticket(desk, subject: str = "Passwort vergessen", sender: str = f"Kim Kunde <{KIM}>"):
    customer_mail = make_mail(
        sender=sender, subject=subject, body="Ich komme nicht mehr in mein Konto.\nKim\n"
    )
    desk.send(customer_mail, sender=sender.split("<")[-1].strip(">"))
    [notification] = wait_mail_to(desk, ANNA)
    return customer_mail, notification


def test_agent_reply_reaches_the_customer_from_the_desk_threaded_without_quote_or_signature(
    agent_desk,
) -> None:
    customer_mail, notification = open_ticket(agent_desk)
    assert "support+10001-a" in notification["Reply-To"]
    assert "Ich komme nicht mehr in mein Konto." in notification.get_content()
    assert "[Ticket#10001]" in notification["Subject"]
    reply = reply_to(
        notification,
        "Hallo Kim,\n\nich habe Ihr Passwort zurückgesetzt.\n\n"
        "Viele Grüße\nAnna\n-- \nAnna Agentin\nTel. +49 30 1234567",
    )
    reply.add_attachment(
        b"%PDF-1.4 anleitung", maintype="application", subtype="pdf", filename="anleitung.pdf"
    )
    agent_desk.send(reply, sender=ANNA, recipients=(notification["Reply-To"],))
    answer = agent_desk.wait_until(
        lambda: [
            m
            for m in mail_to(agent_desk, KIM)
            if "zurückgesetzt" in m.as_string() or m.get("Auto-Submitted") is None
        ],
        what="the agent's answer to the customer",
    )[0]
    raw = answer.as_bytes()
    assert b"anna@example.com" not in raw.lower()
    assert answer["From"].addresses[0].addr_spec == "support@example.com"
    assert answer["In-Reply-To"] == customer_mail["Message-ID"]
    assert customer_mail["Message-ID"] in answer["References"]
    assert "[Ticket#10001]" in answer["Subject"] and "support+10001-c" in answer["Reply-To"]
    body = answer.get_body(("plain",)).get_content()
    assert "ich habe Ihr Passwort zurückgesetzt." in body
    assert "Tel. +49" not in body and "> " not in body and "schrieb" not in body
    assert body.count("Anna") == 1, body  # her own sign-off; the template adds no second name
    [attached] = list(answer.iter_attachments())
    assert attached.get_filename() == "anleitung.pdf" and attached.get_content() == b"%PDF-1.4 anleitung"
    stored = [m for m in messages(agent_desk, 10001) if m["kind"] == "agent"]
    assert stored and "Tel." not in stored[0]["text"] and "schrieb" not in stored[0]["text"]
    # Agents never get an acknowledgement; Bert (level 2) heard nothing of a level-1 ticket.
    assert all(m.get("Auto-Submitted") != "auto-replied" for m in mail_to(agent_desk, ANNA))
    assert mail_to(agent_desk, BERT) == []


def test_a_note_reaches_no_customer(agent_desk) -> None:
    _, notification = open_ticket(agent_desk)
    agent_desk.send(
        reply_to(notification, "#note\nKunde ist VIP, bitte bevorzugt behandeln."),
        sender=ANNA,
        recipients=(notification["Reply-To"],),
    )
    processed(agent_desk, 2)
    assert [m["Subject"] for m in mail_to(agent_desk, KIM)] == [mail_to(agent_desk, KIM)[0]["Subject"]]
    [note] = [m for m in messages(agent_desk, 10001) if m["kind"] == "agent_note"]
    assert note["text"] == "Kunde ist VIP, bitte bevorzugt behandeln."


def test_every_command(agent_desk) -> None:
    customer_mail, notification = open_ticket(agent_desk)
    to = (notification["Reply-To"],)
    commands = "#pending\n#assign Bert\n#priority high\n#queue billing\n#level 2\n\nViele Grüße\nAnna"
    agent_desk.send(reply_to(notification, commands), sender=ANNA, recipients=to)
    processed(agent_desk, 2)
    changed = ticket(agent_desk, 10001)
    assert (changed.status, changed.assignee, changed.priority, changed.queue, changed.level) == (
        "pending",
        BERT,
        "high",
        "billing",
        2,
    )
    assert "agent_commands" in kinds(agent_desk, 10001)
    agent_desk.send(reply_to(notification, "#close"), sender=ANNA, recipients=to)
    processed(agent_desk, 3)
    assert ticket(agent_desk, 10001).status == "closed"
    agent_desk.send(reply_to(notification, "#open"), sender=ANNA, recipients=to)
    processed(agent_desk, 4)
    assert ticket(agent_desk, 10001).status == "open"
    # Command-only mail sent nothing to the customer: only the acknowledgement.
    assert len(mail_to(agent_desk, KIM)) == 1
    # A second ticket, from someone else, merged into the first.
    agent_desk.send(
        make_mail(sender="Lou <lou@customer.example>", subject="Auch gesperrt"), sender="lou@customer.example"
    )
    # Ticket 10001 is assigned to Bert now, 10002 is new: Anna hears of it.
    second = agent_desk.wait_until(
        lambda: [m for m in mail_to(agent_desk, ANNA) if "10002" in m["Subject"]],
        what="notification for 10002",
    )[0]
    agent_desk.send(reply_to(second, "#merge 10001"), sender=ANNA, recipients=(second["Reply-To"],))
    processed(agent_desk, 6)
    assert ticket(agent_desk, 10002).status == "closed"
    assert kinds(agent_desk, 10002) == []
    assert any(
        m["kind"] == "customer" and m["from"] == "lou@customer.example" for m in messages(agent_desk, 10001)
    )
    # Lou answers his acknowledgement (the merged ticket's reply address): it lands on 10001.
    [lou_ack] = mail_to(agent_desk, "lou@customer.example")
    lou_reply = make_mail(sender="Lou <lou@customer.example>", to=lou_ack["Reply-To"], subject="Re: gesperrt")
    agent_desk.send(lou_reply, sender="lou@customer.example", recipients=(lou_ack["Reply-To"],))
    processed(agent_desk, 7)
    assert ticket(agent_desk, 10002).status == "closed" and kinds(agent_desk, 10002) == []
    assert [m["from"] for m in messages(agent_desk, 10001)].count("lou@customer.example") == 2
    explained = agent_desk.json("triage", "explain", "10001")
    details = [step["detail"] for step in explained["steps"]]
    assert (
        "assigned to bert@example.com" in details
        and "ticket 10002 (lou@customer.example) merged into this one" in details
    )


def test_escalate_by_mail_moves_the_ticket_up_and_tells_the_next_level(agent_desk) -> None:
    _, notification = open_ticket(agent_desk)
    body = "#escalate Kunde braucht einen Admin\n"
    agent_desk.send(reply_to(notification, body), sender=ANNA, recipients=(notification["Reply-To"],))
    notice = agent_desk.wait_until(
        lambda: [m for m in mail_to(agent_desk, BERT) if "Eskaliert an Level 2" in m["Subject"]],
        what="the escalation notice to level 2",
    )[0]
    assert "Kunde braucht einen Admin" in notice.get_content()
    assert ticket(agent_desk, 10001).level == 2
    assert len(mail_to(agent_desk, KIM)) == 1  # the acknowledgement only
    steps = agent_desk.json("triage", "explain", "10001")["steps"]
    assert any(s["step"] == "escalate" and s["name"] == ANNA for s in steps)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("#priority sky-high", "#priority braucht low, normal, high oder urgent, nicht „sky-high“"),
        ("#frobnicate", "unbekannter Befehl #frobnicate"),
        ("#merge 99999", "kein Ticket 99999"),
        ("#assign Zoe", "keine Agentin „Zoe“"),
        ("#level 7", "#level braucht eine Zahl von 1 bis 3"),
        ("#close now", "#close nimmt keinen Wert"),
    ],
)
def test_a_bad_command_runs_nothing_and_tells_the_agent_which_line(agent_desk, line: str, why: str) -> None:
    _, notification = open_ticket(agent_desk)
    body = f"#pending\n{line}\nHallo Kim, das ist erledigt."
    agent_desk.send(reply_to(notification, body), sender=ANNA, recipients=(notification["Reply-To"],))
    error = agent_desk.wait_until(
        lambda: [m for m in mail_to(agent_desk, ANNA) if "Befehlsfehler" in m["Subject"]],
        what="the error reply",
    )[0]
    text = error.get_content()
    assert f"Zeile 2: {line}" in text and why in text
    # The desk's language throughout (it is German here): no English reason in a German mail.
    assert all(english not in text for english in ("needs", "unknown", "takes no", "no ticket", "no agent"))
    processed(agent_desk, 2)
    assert ticket(agent_desk, 10001).status == "open"
    assert len(mail_to(agent_desk, KIM)) == 1  # the acknowledgement only
    assert "agent_rejected" in kinds(agent_desk, 10001)


def forged_reply(notification, to: str, sender: str = f"Anna <{ANNA}>", **headers: str):
    mail = reply_to(notification, "#close\nHallo Kim, Ihr Konto ist gelöscht.", sender=sender, **headers)
    del mail["To"]
    mail["To"] = to
    return mail


def assert_nothing_done(desk, expected_quarantined: int) -> None:
    assert ticket(desk, 10001).status == "open"
    assert len(mail_to(desk, KIM)) == 1  # the acknowledgement only
    quarantined = [m for m in messages(desk, 10001) if m["kind"] == "quarantined"]
    assert len(quarantined) == expected_quarantined
    assert all(any(d.startswith("quarantined: ") for d in m["defects"]) for m in quarantined)


def test_forged_agent_mail_posts_nothing_and_runs_nothing(agent_desk) -> None:
    _, notification = open_ticket(agent_desk)
    anna_token = notification["Reply-To"].addresses[0].addr_spec
    bert_token = reply_address("support@example.com", make_token(b"test-secret", 10001, AGENT, BERT))
    wrong_ticket = anna_token.replace("10001-", "10002-")
    attempts = [
        (forged_reply(notification, bert_token), ANNA, bert_token),  # right From, another agent's token
        (forged_reply(notification, wrong_ticket), ANNA, wrong_ticket),  # token moved to another ticket
        (
            forged_reply(notification, anna_token, sender="Mallory <mallory@evil.example>"),
            "mallory@evil.example",
            anna_token,
        ),
    ]
    for mail, envelope_from, rcpt in attempts:
        agent_desk.send(mail, sender=envelope_from, recipients=(rcpt,))
    # Right From, no token at all: threads by In-Reply-To, yet is no agent mail.
    no_token = forged_reply(notification, "support@example.com")
    agent_desk.send(no_token, sender=ANNA)
    processed(agent_desk, 5)
    # The moved token names no ticket: nothing to keep it on but the spool (logged).
    assert_nothing_done(agent_desk, expected_quarantined=3)
    howto = [
        m
        for m in mail_to(agent_desk, ANNA)
        if "Antwortadresse" in m.get_content() and "nicht abgelegt" in m["Subject"]
    ]
    assert len(howto) == 1
    assert "quarantined" in agent_desk.log.read_text()


AUTH = '\n[agent_mail]\nrequire_auth_results = true\ntrusted_authserv_id = "mx.example.com"\n'


@pytest.mark.parametrize(
    "results",
    [
        None,
        "mx.example.com; dkim=fail header.d=example.com; spf=softfail smtp.mailfrom=anna@example.com",
        "evil.example; dkim=pass header.d=example.com; spf=pass smtp.mailfrom=anna@example.com",
        "mx.example.com; dkim=pass header.d=evil.example; spf=pass smtp.mailfrom=mallory@evil.example",
    ],
)
def test_failing_authentication_results_post_nothing(make_desk, results: str | None) -> None:
    desk = start_agent_desk(make_desk(), AUTH)
    _, notification = open_ticket(desk)
    headers = {"Authentication_Results": results} if results else {}
    to = notification["Reply-To"].addresses[0].addr_spec
    desk.send(forged_reply(notification, to, **headers), sender=ANNA, recipients=(to,))
    processed(desk, 2)
    assert_nothing_done(desk, expected_quarantined=1)


def test_a_trusted_pass_lets_the_agent_mail_through(make_desk) -> None:
    desk = start_agent_desk(make_desk(), AUTH)
    _, notification = open_ticket(desk)
    to = notification["Reply-To"].addresses[0].addr_spec
    passed = "mx.example.com; dkim=pass header.d=example.com header.s=sel; spf=neutral"
    desk.send(forged_reply(notification, to, Authentication_Results=passed), sender=ANNA, recipients=(to,))
    wait_mail_to(desk, KIM, 2)
    processed(desk, 2)
    assert ticket(desk, 10001).status == "closed"


def test_agent_mail_to_the_plain_desk_address(make_desk) -> None:
    desk = start_agent_desk(make_desk())
    desk.send(make_mail(sender=f"Anna <{ANNA}>", subject="Frage an alle"), sender=ANNA)
    [howto] = wait_mail_to(desk, ANNA)
    assert "nicht abgelegt" in howto["Subject"] and howto["Auto-Submitted"] == "auto-generated"
    processed(desk, 1)
    with desk.store.read() as session:
        assert session.execute(select(func.count()).select_from(Ticket)).scalar_one() == 0


# The issue's own spelling: an [agents] table; the agents then go in [[agents.members]].
AGENTS_TABLE = """
[[queues]]
name = "support"
addresses = ["support@example.com"]

[agents]
agents_may_open_tickets = true

[[agents.members]]
email = "anna@example.com"
name = "Anna"
queues = ["support"]

[[agents.members]]
email = "cleo@example.com"
name = "Cleo"
queues = ["support"]
"""


def test_agents_may_open_tickets_and_get_no_acknowledgement(make_desk) -> None:
    desk = start_agent_desk(make_desk(), agents=AGENTS_TABLE)
    desk.send(make_mail(sender=f"Anna <{ANNA}>", subject="Drucker im Lager defekt"), sender=ANNA)
    [notification] = wait_mail_to(desk, "cleo@example.com")
    assert "Neues Ticket" in notification["Subject"]
    processed(desk, 1)
    assert ticket(desk, 10001).subject == "Drucker im Lager defekt"
    assert mail_to(desk, ANNA) == []  # no acknowledgement, no notification of her own ticket
