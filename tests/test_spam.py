"""Spam and forged senders (issue 16.2), end to end through a real `postdesk serve` over SMTP:
each spam header style files a silent `spam` ticket, a forged From (dmarc=fail from the trusted
server) gets no mail back, `tickets not-spam` releases the acknowledgement, blocked senders and
domains, `tickets purge`, and the config's one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import func, select, update

from agents_support import ANNA, BERT, mail_to, processed, reply_to, sent_mail, start_agent_desk, wait_mail_to
from conftest import Desk, make_mail
from corpus import ZAMMAD_MAIL, corpus_file
from postdesk.store.models import (
    Attachment,
    Blob,
    Contact,
    DedupeEntry,
    Inbound,
    InboundRaw,
    Message,
    Outbox,
    Participant,
    Ticket,
    TriageEvent,
)

TRUSTED = "mx.example.com"
SPAM_DESK: dict[str, Any] = {"spam": {"trusted_authserv_id": TRUSTED}, "dedupe": {"enabled": False}}

# Each style the desk reads, as the filters in front write it (docs/spam.md).
SPAM_HEADERS: list[dict[str, str]] = [
    {"X-Spam-Flag": "YES"},
    {"X-Spam-Status": "Yes, score=7.3 required=5.0 tests=BAYES_99,URIBL_BLACK autolearn=no"},
    # Its own filter said No, but the score is over our [spam] spamassassin_threshold (5).
    {"X-Spam-Status": "No, score=6.1 required=8.0 tests=BAYES_80"},
    {"X-Spam": "Yes"},
    {"X-Rspamd-Action": "reject"},
    {"X-Rspamd-Action": "add header"},
    {"X-Rspamd-Action": "rewrite subject"},
    {"X-Spam-Score": "16.2"},
    {"X-Spamd-Result": "default: True [16.50 / 15.00]; BAYES_SPAM(5.10)[99.99%]; R_SPF_FAIL(1.00)"},
    {"Authentication-Results": f"{TRUSTED}; spf=fail smtp.mailfrom=junk.example; dkim=fail header.d=junk.ex"},
]


def mail_from(n: int, sender_domain: str = "customer.example", **headers: str) -> EmailMessage:
    # Each its own concern from its own sender: nothing else could keep an acknowledgement back.
    return make_mail(
        sender=f"Kunde {n} <kunde{n}@{sender_domain}>",
        subject=f"Anfrage {n}: Rechnung {n * 7919}",
        body=f"Bitte prüfen Sie Vorgang {n * 104729}.\n",
        **headers,
    )


def send(desk: Desk, mail: EmailMessage) -> None:
    desk.send(mail, sender=mail["From"].addresses[0].addr_spec)


def tickets(desk: Desk, *args: str) -> list[dict[str, Any]]:
    return desk.json("tickets", "list", *args)  # type: ignore[no-any-return]


def mails_to(desk: Desk, address: str) -> list[EmailMessage]:
    return [m for m in sent_mail(desk) if address in str(m["To"])]


def test_each_spam_header_style_gives_a_spam_ticket_and_no_mail(make_desk: Callable[..., Desk]) -> None:
    desk = start_agent_desk(make_desk(SPAM_DESK))
    for n, headers in enumerate(SPAM_HEADERS):
        send(desk, mail_from(n, **headers))
    send(desk, mail_from(99, X_Spam_Flag="NO", X_Spam_Status="No, score=0.4 required=5.0"))
    processed(desk, len(SPAM_HEADERS) + 1)

    spam = tickets(desk, "--status", "spam")
    assert len(spam) == len(SPAM_HEADERS)
    assert {t["queue"] for t in spam} == {"spam"} and all(t["spam_reason"] for t in spam)
    assert {t["first_response_due"] for t in spam} == {None}
    # The ham only: spam is in no list but its own, and no mail of any kind went out for it.
    [ham] = tickets(desk)
    assert ham["customer"] == "kunde99@customer.example" and ham["spam_reason"] is None
    assert all(any(who in str(m["To"]) for who in ("kunde99@", ANNA, BERT)) for m in sent_mail(desk))
    assert len(mails_to(desk, "kunde99@")) == 1
    assert len(mail_to(desk, ANNA)) == 1 and str(ham["number"]) in str(mail_to(desk, ANNA)[0]["Subject"])
    with desk.store.read() as session:
        assert session.scalar(select(func.count()).select_from(Outbox)) == len(sent_mail(desk))
        assert session.scalar(select(func.count()).select_from(DedupeEntry)) == 0
    reasons = {t["customer"]: t["spam_reason"] for t in spam}
    assert reasons["kunde0@customer.example"] == "X-Spam-Flag: YES"
    assert reasons["kunde2@customer.example"] == "X-Spam-Status score 6.1 >= 5"
    assert reasons["kunde4@customer.example"] == "X-Rspamd-Action: reject"
    assert reasons["kunde9@customer.example"] == f"spf=fail and dkim=fail ({TRUSTED})"

    shown = desk.run("tickets", "show", str(spam[0]["number"])).stdout.decode()
    assert f"spam: {spam[0]['spam_reason']}" in shown
    stats = desk.json("stats")
    assert stats["spam_filed"] == len(SPAM_HEADERS) and stats["backlog"]["open"] == 1


def test_an_agents_reply_a_filter_called_spam_still_reaches_the_customer(
    make_desk: Callable[..., Desk],
) -> None:
    desk = start_agent_desk(make_desk(SPAM_DESK))
    send(desk, mail_from(1))
    [notification] = wait_mail_to(desk, ANNA)
    desk.send(reply_to(notification, "Ist erledigt.", X_Spam_Flag="YES"), sender=ANNA)
    processed(desk, 2)
    answers = [m for m in mails_to(desk, "kunde1@") if "Ist erledigt." in m.get_content()]
    assert len(answers) == 1
    assert tickets(desk, "--status", "spam") == []


def test_forged_from_gets_no_mail_back_only_when_the_trusted_server_says_so(
    make_desk: Callable[..., Desk],
) -> None:
    desk = make_desk(SPAM_DESK)
    desk.start()
    dmarc = "dmarc=fail (p=reject) header.from=victim.example; spf=fail smtp.mailfrom=victim.example"
    # The trusted server saw DMARC fail for the From's domain: forged.
    send(desk, mail_from(1, "victim.example", Authentication_Results=f"{TRUSTED}; {dmarc}"))
    # The same words from a server we do not know prove nothing: the desk answers as usual.
    send(desk, mail_from(2, "victim.example", Authentication_Results=f"mx.evil.example; {dmarc}"))
    # A DMARC failure for some other domain says nothing about this From.
    other = "dmarc=fail header.from=other.example"
    send(desk, mail_from(3, "victim.example", Authentication_Results=f"{TRUSTED}; {other}"))
    processed(desk, 3)

    [forged] = tickets(desk, "--status", "spam")
    assert forged["customer"] == "kunde1@victim.example" and forged["forged_from"] is True
    assert forged["spam_reason"] == f"dmarc=fail for victim.example ({TRUSTED})"
    assert sorted(t["customer"] for t in tickets(desk)) == ["kunde2@victim.example", "kunde3@victim.example"]
    assert mails_to(desk, "kunde1@") == []
    assert len(mails_to(desk, "kunde2@")) == 1 and len(mails_to(desk, "kunde3@")) == 1
    assert "From forged" in desk.run("tickets", "show", str(forged["number"])).stdout.decode()

    # Released, it joins its queue, but a forged From still gets nothing.
    released = desk.run("tickets", "not-spam", str(forged["number"])).stdout.decode()
    assert "no acknowledgement: the trusted server saw its From forged" in released
    processed(desk, 3)
    assert mails_to(desk, "kunde1@") == []
    assert {t["number"] for t in tickets(desk)} >= {forged["number"]}


def test_not_spam_releases_the_acknowledgement_and_joins_the_dedupe_index(
    make_desk: Callable[..., Desk],
) -> None:
    desk = start_agent_desk(make_desk({"spam": {"trusted_authserv_id": TRUSTED}}))
    original = mail_from(7, X_Spam_Flag="YES")
    send(desk, original)
    processed(desk, 1)
    [spam] = tickets(desk, "--status", "spam")
    assert sent_mail(desk) == []

    out = desk.run("tickets", "not-spam", str(spam["number"])).stdout.decode()
    assert f"ticket {spam['number']} released to queue support" in out and "acknowledgement queued" in out
    [ack] = desk.wait_until(lambda: mails_to(desk, "kunde7@"), what="the released acknowledgement")
    assert f"Ticket#{spam['number']}" in str(ack["Subject"])
    desk.wait_until(lambda: mail_to(desk, ANNA), what="the agents' notification of the released ticket")
    [open_ticket] = tickets(desk)
    assert open_ticket["number"] == spam["number"] and open_ticket["status"] == "open"
    assert open_ticket["queue"] == "support" and open_ticket["first_response_due"] is not None
    assert tickets(desk, "--status", "spam") == []
    assert "released from spam" in desk.run("tickets", "show", str(spam["number"])).stdout.decode()

    # Like any ticket, its mail is now a dedupe candidate: the customer's repeat merges into it.
    repeat = mail_from(7)
    send(desk, repeat)
    processed(desk, 2)
    assert len(tickets(desk)) == 1
    with desk.store.read() as session:
        threaded = session.execute(
            select(Message.threaded_by).where(
                Message.ticket_id == int(spam["number"]), Message.direction == "in"
            )
        ).scalars()
        assert list(threaded) == ["new", "duplicate"]

    again = desk.run("tickets", "not-spam", str(spam["number"]), check=False)
    assert again.returncode == 1 and b"is not spam (status open)" in again.stderr
    missing = desk.run("tickets", "not-spam", "99999", check=False)
    assert missing.returncode == 1 and missing.stderr.decode().strip() == "postdesk: no ticket 99999"


def test_blocked_senders_and_domains_are_filed_as_spam_silently(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk(SPAM_DESK)
    desk.start()
    out = desk.run("senders", "block", "Spammer@Bad.example", "@junk.example").stdout.decode()
    assert out.splitlines() == ["blocked spammer@bad.example", "blocked @junk.example"]
    assert "was blocked already" in desk.run("senders", "block", "spammer+x@bad.example").stdout.decode()
    listed = desk.json("senders", "list")
    assert [(r["pattern"], r["kind"]) for r in listed] == [
        ("@junk.example", "domain"),
        ("spammer@bad.example", "address"),
    ]
    bad = desk.run("senders", "block", "not an address", check=False)
    assert (
        bad.returncode == 1
        and b"expected an address (bob@example.com) or a domain (@example.com)" in bad.stderr
    )

    for sender in ("spammer+offer@BAD.example", "anyone@mail.junk.example", "kim@fine.example"):
        send(desk, make_mail(sender=sender, subject=f"Hallo von {sender}", body=f"Text {sender}\n"))
    processed(desk, 3)
    reasons = {t["customer"]: t["spam_reason"] for t in tickets(desk, "--status", "spam")}
    assert reasons == {
        "spammer+offer@bad.example": "blocked sender spammer@bad.example",
        "anyone@mail.junk.example": "blocked sender @junk.example",
    }
    assert [str(m["To"]) for m in sent_mail(desk)] == ["kim@fine.example"]

    assert desk.run("senders", "unblock", "spammer@bad.example").stdout.decode().strip() == (
        "unblocked spammer@bad.example"
    )
    gone = desk.run("senders", "unblock", "spammer@bad.example", check=False)
    assert gone.returncode == 1 and b"not blocked: spammer@bad.example" in gone.stderr
    send(desk, make_mail(sender="spammer@bad.example", subject="Doch echt", body="Wirklich eine Frage.\n"))
    processed(desk, 4)
    assert len(mails_to(desk, "spammer@bad.example")) == 1
    assert [r["pattern"] for r in desk.json("senders", "list")] == ["@junk.example"]


def test_purge_deletes_old_spam_with_every_row_that_refers_to_it(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk(SPAM_DESK)
    desk.start()
    shared = b"the same file in spam and in a customer's mail"
    for n in range(3):
        spam = mail_from(n, X_Spam_Flag="YES")
        spam.add_attachment(shared, maintype="application", subtype="octet-stream", filename="offer.bin")
        spam.add_attachment(f"only spam {n}".encode(), maintype="text", subtype="plain", filename=f"s{n}.txt")
        send(desk, spam)
    ham = mail_from(9)
    ham.add_attachment(shared, maintype="application", subtype="octet-stream", filename="invoice.bin")
    send(desk, ham)
    recent = mail_from(5, X_Spam="Yes")
    processed(desk, 4)
    send(desk, recent)  # spam too, but not old enough to purge
    processed(desk, 5)
    desk.stop()

    spam_ids = [
        int(t["number"])
        for t in tickets(desk, "--status", "spam")
        if t["customer"] != "kunde5@customer.example"
    ]
    assert len(spam_ids) == 3
    old = datetime.now(UTC) - timedelta(days=40)
    with desk.store.transaction() as session:
        session.execute(update(Ticket).where(Ticket.id.in_(spam_ids)).values(created_at=old))
        # What other paths leave on a ticket: a held mail in the outbox, a triage event.
        message_id = session.scalar(select(Message.id).where(Message.ticket_id == spam_ids[0]))
        session.add(
            Outbox(
                ticket_id=spam_ids[0],
                message_row_id=message_id,
                kind="acknowledgement",
                message_id="held@example.com",
                envelope_from="support@example.com",
                recipients=["kunde0@customer.example"],
                raw=b"held",
                status="held",
                held_by="global",
                next_attempt_at=old,
                created_at=old,
            )
        )
        session.add(TriageEvent(ticket_id=spam_ids[1], created_at=old, step="rule", name="x", detail="y"))
    before = table_counts(desk)

    dry = desk.json("tickets", "purge", "--status", "spam", "--older-than", "30d", "--dry-run")
    assert dry["dry_run"] is True
    counts = dry["deleted"]
    assert counts["tickets"] == 3 and counts["messages"] == 3 and counts["attachments"] == 6
    assert counts["outbox"] == 1 and counts["triage_events"] == 1 and counts["participants"] == 3
    assert counts["inbound"] == 3 and counts["inbound_raw"] == 3
    assert counts["blobs"] == 3 and counts["contacts"] == 3  # the shared file stays: the ham has it
    assert table_counts(desk) == before
    text = desk.run(
        "tickets", "purge", "--status", "spam", "--older-than", "30d", "--dry-run"
    ).stdout.decode()
    assert text.startswith("would delete 3 spam tickets older than 30d")

    done = desk.run("tickets", "purge", "--status", "spam", "--older-than", "30d").stdout.decode()
    assert done.startswith("deleted 3 spam tickets older than 30d") and "  attachments: 6" in done
    after = table_counts(desk)
    assert after == {
        "tickets": before["tickets"] - 3,
        "messages": before["messages"] - 3,
        "attachments": before["attachments"] - 6,
        "blobs": before["blobs"] - 3,
        "outbox": before["outbox"] - 1,
        "inbound": before["inbound"] - 3,
        "inbound_raw": before["inbound_raw"] - 3,
        "contacts": before["contacts"] - 3,
        "participants": before["participants"] - 3,
        "triage_events": before["triage_events"] - 1,
    }
    assert [t["customer"] for t in tickets(desk, "--status", "spam")] == ["kunde5@customer.example"]
    assert [t["customer"] for t in tickets(desk)] == ["kunde9@customer.example"]
    ham_ticket = tickets(desk)[0]["number"]
    assert (
        desk.json("tickets", "show", str(ham_ticket))["messages"][0]["attachments"][0]["filename"]
        == "invoice.bin"
    )
    nothing = desk.json("tickets", "purge", "--status", "spam", "--older-than", "30d")
    assert nothing["deleted"]["tickets"] == 0
    wrong = desk.run("tickets", "purge", "--status", "open", "--older-than", "30d", check=False)
    assert wrong.returncode == 2
    bad_age = desk.run("tickets", "purge", "--status", "spam", "--older-than", "soon", check=False)
    assert bad_age.returncode == 1 and b"--older-than: expected a duration" in bad_age.stderr


def table_counts(desk: Desk) -> dict[str, int]:
    models = {
        "tickets": Ticket,
        "messages": Message,
        "attachments": Attachment,
        "blobs": Blob,
        "outbox": Outbox,
        "inbound": Inbound,
        "inbound_raw": InboundRaw,
        "contacts": Contact,
        "participants": Participant,
        "triage_events": TriageEvent,
    }
    with desk.store.read() as session:
        return {
            name: session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in models.items()
        }


def test_real_spam_from_the_corpus_is_filed_as_spam_and_real_mail_is_not(
    make_desk: Callable[..., Desk],
) -> None:
    spam = [corpus_file(f"{ZAMMAD_MAIL}/mail{n}.box").read_bytes() for n in ("046", "071")]
    ham = corpus_file(f"{ZAMMAD_MAIL}/mail001.box").read_bytes()
    desk = make_desk(SPAM_DESK)
    desk.start()
    for raw in (*spam, ham):
        desk.send(raw, sender="sender@corpus.example")
    processed(desk, 3)
    reasons = sorted(t["spam_reason"] for t in tickets(desk, "--status", "spam"))
    assert reasons == ["X-Spam-Flag: YES", "X-Spam-Flag: YES"]
    assert len(tickets(desk)) == 1


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        (
            "spamassassin_threshold = -1",
            "[spam] spamassassin_threshold: Input should be greater than or equal to 0",
        ),
        ("rspamd_threshold = -0.5", "[spam] rspamd_threshold: Input should be greater than or equal to 0"),
        (
            'headers = ["spamassasin"]',
            "[spam] headers[0]: Input should be 'spamassassin', 'rspamd' or 'x-spam'",
        ),
        ('rspamd_actions = ["quarantine"]', "[spam] rspamd_actions[0]: Input should be 'reject'"),
        ('spamd = "localhost"', "[spam] spamd: expected host:port"),
        ("spamd_timeout_seconds = 0", "[spam] spamd_timeout_seconds: Input should be greater than 0"),
        ('colour = "red"', "[spam] colour: unknown key"),
        (
            'spamd = "127.0.0.1:783"\nspamd_timeout_seconds = 90',
            "[spam] spamd_timeout_seconds: must be below [pipeline] message_timeout_seconds (60)",
        ),
    ],
)
def test_a_bad_spam_setting_is_one_clear_line_naming_file_and_key(
    make_desk: Callable[..., Desk], section: str, problem: str
) -> None:
    desk = make_desk()
    desk.config.write_text(desk.config.read_text() + f"\n[spam]\n{section}\n")
    result = desk.run("tickets", "list", check=False)
    assert result.returncode == 1
    [line] = result.stderr.decode().splitlines()
    assert line.startswith(f"postdesk: {desk.config}: {problem}")
