"""A real Postfix in front of postdesk: pipe into mailgate, LMTP, and relaying
postdesk's outgoing mail. Mail goes in with swaks; a postdesk that cannot
store (exit 75, or no listener) makes Postfix defer, and the mail arrives
once postdesk is back."""

from __future__ import annotations

import email
import email.policy
import sqlite3
import urllib.request
from collections.abc import Callable

from sqlalchemy import func, select

from conftest import Desk, free_port, make_mail
from ops_support import require_sqlite
from postdesk.store.models import Inbound
from postfix_support import (
    Postfix,
    lmtp_mode,
    mailgate_command,
    make_postfix,
    make_shared_desk,
    needs_postfix,
    open_for,
    pipe_mode,
    relay_mode,
)
from test_delivery import start_sink

__all__ = ["make_postfix", "make_shared_desk"]  # fixtures, imported for pytest

pytestmark = needs_postfix


def deferred_reasons(postfix: Postfix) -> list[str]:
    return [
        rcpt.get("delay_reason", "")
        for mail in postfix.queue()
        if mail["queue_name"] == "deferred"
        for rcpt in mail["recipients"]
    ]


def subjects(desk: Desk) -> set[str]:
    return {row["subject"] for row in desk.json("tickets", "list")}


def test_pipe_into_mailgate_defers_while_the_store_is_unwritable(
    make_shared_desk: Callable[..., Desk], make_postfix: Callable[[], Postfix]
) -> None:
    desk = make_shared_desk()
    require_sqlite(desk)
    desk.run("db", "upgrade")
    open_for(desk.root)
    postfix = make_postfix()
    postfix.configure(pipe_mode(mailgate_command(postfix.root), desk.config))
    postfix.start()

    first = make_mail(subject="Über Postfix per pipe")
    postfix.swaks(first.as_bytes(), "kim@customer.example", "support@example.com")
    postfix.wait_until(
        lambda: postfix.delivered("support@example.com", "relay=postdesk"), what="delivery by pipe"
    )

    # The store cannot be written by mailgate's user: exit 75, Postfix keeps the mail.
    database = desk.root / "postdesk.db"
    desk.root.chmod(0o555)
    database.chmod(0o444)
    second = make_mail(subject="Zweite Mail, Speicher kaputt")
    postfix.swaks(second.as_bytes(), "kim@customer.example", "support@example.com")
    reasons = postfix.wait_until(lambda: deferred_reasons(postfix), what="the mail deferred")
    assert "try again later" in reasons[0]

    desk.root.chmod(0o755)
    database.chmod(0o644)
    postfix.flush()
    postfix.wait_until(lambda: not postfix.queue(), what="Postfix's queue empty after flush")

    desk.run("process", "--once")
    assert subjects(desk) == {"Über Postfix per pipe", "Zweite Mail, Speicher kaputt"}
    with desk.store.read() as session:
        rows = session.execute(select(Inbound.via, Inbound.envelope_from, Inbound.recipients)).all()
    assert [(r.via, r.envelope_from, r.recipients) for r in rows] == [
        ("mailgate", "kim@customer.example", ["support@example.com"])
    ] * 2


def test_lmtp_delivery_is_deferred_while_postdesk_is_down(
    make_desk: Callable[..., Desk], make_postfix: Callable[[], Postfix]
) -> None:
    lmtp_port = free_port()
    desk = make_desk({"ingest": {"lmtp": {"enabled": True, "host": "127.0.0.1", "port": lmtp_port}}})
    desk.start()
    postfix = make_postfix()
    postfix.configure(lmtp_mode(lmtp_port))
    postfix.start()

    postfix.swaks(make_mail(subject="Per LMTP").as_bytes(), "kim@customer.example", "support@example.com")
    desk.wait_until(lambda: "Per LMTP" in subjects(desk), what="the LMTP mail as a ticket")

    desk.stop()
    postfix.swaks(
        make_mail(subject="Während postdesk steht").as_bytes(), "ina@customer.example", "support@example.com"
    )
    reasons = postfix.wait_until(lambda: deferred_reasons(postfix), what="the mail deferred")
    assert "Connection refused" in reasons[0]

    desk.start()
    postfix.flush()
    desk.wait_until(lambda: "Während postdesk steht" in subjects(desk), what="the deferred mail as a ticket")
    postfix.wait_until(lambda: not postfix.queue(), what="Postfix's queue empty")
    with desk.store.read() as session:
        vias = session.execute(select(Inbound.via, func.count()).group_by(Inbound.via)).all()
    assert dict(vias) == {"lmtp": 2}


def test_lmtp_451_makes_postfix_defer(
    make_desk: Callable[..., Desk], make_postfix: Callable[[], Postfix]
) -> None:
    lmtp_port, metrics_port = free_port(), free_port()
    desk = make_desk(
        {
            "ingest": {"lmtp": {"enabled": True, "host": "127.0.0.1", "port": lmtp_port}},
            "metrics": {"listen": f"127.0.0.1:{metrics_port}"},
        }
    )
    require_sqlite(desk)
    desk.start()
    postfix = make_postfix()
    postfix.configure(lmtp_mode(lmtp_port))
    postfix.start()

    # postdesk runs but cannot write its store (another process holds SQLite's
    # write lock past the busy timeout): it answers 451 and Postfix defers.
    lock = sqlite3.connect(desk.root / "postdesk.db", isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        postfix.swaks(
            make_mail(subject="Speicher gesperrt").as_bytes(), "jo@customer.example", "support@example.com"
        )
        reasons = postfix.wait_until(lambda: deferred_reasons(postfix), timeout=120, what="the 451 deferral")
        assert "451 4.3.0 Message not stored" in reasons[0]
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    postfix.flush()
    desk.wait_until(
        lambda: "Speicher gesperrt" in subjects(desk), what="the mail refused with 451 as a ticket"
    )
    postfix.wait_until(lambda: not postfix.queue(), what="Postfix's queue empty")
    with desk.store.read() as session:
        vias = session.execute(select(Inbound.via, func.count()).group_by(Inbound.via)).all()
    assert dict(vias) == {"lmtp": 1}
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    assert 'postdesk_mails_received_total{listener="lmtp",outcome="tempfail"} 1.0' in text
    assert 'postdesk_mails_received_total{listener="lmtp",outcome="stored"} 1.0' in text


def test_outgoing_mail_is_relayed_by_postfix(
    make_desk: Callable[..., Desk], make_postfix: Callable[[], Postfix]
) -> None:
    sink_port = free_port()
    controller, sink = start_sink(sink_port)
    try:
        postfix = make_postfix()
        postfix.configure(relay_mode(sink_port))
        postfix.start()
        desk = make_desk(
            {"outbound": {"transport": f"smtp://127.0.0.1:{postfix.port}", "retry_base_seconds": 3600}}
        )
        desk.start()

        desk.send(make_mail(subject="Bitte bestätigen"))
        desk.wait_until(lambda: sink.received, what="the acknowledgement at the next hop")
        [(mail_from, rcpts, raw)] = sink.received
        ack = email.message_from_bytes(raw, policy=email.policy.default)
        assert mail_from == "support@example.com" and rcpts == ["kim@customer.example"]
        assert ack["Subject"].startswith("[Ticket#10001]")
        assert "mx.desk.test" in str(ack["Received"])  # it went through Postfix

        # Postfix down: the acknowledgement waits in postdesk's outbox, and the
        # operator sees why and sends it when Postfix is back.
        postfix.stop()
        desk.send(
            make_mail(sender="ina@customer.example", subject="Noch eine"), sender="ina@customer.example"
        )
        deferred = desk.wait_until(
            lambda: [row for row in desk.json("outbox", "list") if row["attempts"] >= 1],
            what="a deferred outbox row",
        )
        assert deferred[0]["status"] == "pending" and deferred[0]["recipients"] == ["ina@customer.example"]
        assert "refused" in deferred[0]["last_error"].lower()
        postfix.start()
        out = desk.run("outbox", "retry", str(deferred[0]["id"])).stdout.decode()
        assert "due now" in out
        desk.wait_until(lambda: len(sink.received) == 2, what="the retried acknowledgement at the next hop")
        assert desk.json("outbox", "list") == []
    finally:
        controller.stop()
