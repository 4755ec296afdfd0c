"""Repeated delivery means the same mail (issue 17.2): two different mails are two
messages, always, whatever Message-ID they share; a true repeat, differing only in
what the servers on the way added, is stored once. Over loopback SMTP against a
real `postdesk serve`, and the Zammad corpus through the mailgate."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from agents_support import processed
from conftest import Desk, make_mail
from corpus import ZAMMAD_MAIL, corpus_dir
from pg_support import backends, postgres_database
from postdesk.cli.main import main
from postdesk.config import load_settings
from postdesk.runtime.desk import open_desk
from postdesk.store.models import Inbound, Message

SHARED_ID = "<4711@broken-client.example>"


def received_with_id(desk: Desk, message_id: str) -> list[tuple[str, str, str]]:
    with desk.store.read() as session:
        rows = session.execute(
            select(Message).where(Message.direction == "in", Message.message_id == message_id.strip("<>"))
        ).scalars()
        return [(m.from_email, m.subject, m.text) for m in rows]


def with_id(message, message_id: str):
    del message["Message-ID"]
    message["Message-ID"] = message_id
    return message


def test_same_message_id_with_another_from_or_subject_is_another_message(desk: Desk) -> None:
    body = "Mein Login klappt nicht.\n"
    desk.send(with_id(make_mail(body=body), SHARED_ID))
    desk.send(
        with_id(make_mail(sender="Bob <bob@customer.example>", body=body), SHARED_ID),
        sender="bob@customer.example",
    )
    desk.send(with_id(make_mail(subject="Login geht wieder nicht", body=body), SHARED_ID))
    processed(desk, 3)
    stored = received_with_id(desk, SHARED_ID)
    assert sorted((sender, subject) for sender, subject, _ in stored) == [
        ("bob@customer.example", "Hilfe beim Login"),
        ("kim@customer.example", "Hilfe beim Login"),
        ("kim@customer.example", "Login geht wieder nicht"),
    ]


def bodyless(subject: str) -> bytes:
    return (
        "From: Kim Kunde <kim@customer.example>\r\nTo: support@example.com\r\n"
        f"Subject: {subject}\r\nMessage-ID: {SHARED_ID}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n\r\n"
    ).encode()


def test_bodyless_mails_of_a_client_that_reuses_one_message_id_are_two_messages(desk: Desk) -> None:
    desk.send(bodyless("Bitte Passwort zurücksetzen"))
    desk.send(bodyless("Server ist down!!"))
    processed(desk, 2)
    assert len(received_with_id(desk, SHARED_ID)) == 2


def in_transit(raw: bytes, hop: int) -> bytes:
    """RAW as another path delivers it: trace headers on top, CRLF line ends."""
    trace = (
        f"Return-Path: <kim@customer.example>\r\nDelivered-To: support@example.com\r\n"
        f"Received: from mx{hop}.example.com (mx{hop}.example.com [192.0.2.{hop}])\r\n"
        f"\tby desk.example.com with ESMTPS id A{hop}; Mon, 23 Nov 2026 10:00:0{hop} +0100\r\n"
        f"Authentication-Results: mx{hop}.example.com; dkim=pass header.d=customer.example\r\n"
        f"ARC-Seal: i=1; a=rsa-sha256; d=mx{hop}.example.com; s=arc; cv=none; b=abc{hop}\r\n"
    ).encode()
    return trace + raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_a_true_repeat_with_other_trace_headers_is_stored_once(desk: Desk) -> None:
    with_message_id = make_mail(subject="Einmal", body="Nur einmal speichern.\n").as_bytes()
    without = make_mail(subject="Ohne Kennung", body="Auch nur einmal.\n")
    del without["Message-ID"]
    for raw in (with_message_id, without.as_bytes()):
        desk.send(raw)
        desk.send(in_transit(raw, 1))
        desk.send(in_transit(raw, 2))
    processed(desk, 6)
    with desk.store.read() as session:
        texts = session.execute(select(Message.text).where(Message.direction == "in")).scalars().all()
        repeats = session.execute(
            select(func.count()).where(Inbound.result.like("repeated delivery%"))
        ).scalar_one()
    assert sorted(t.strip() for t in texts) == ["Auch nur einmal.", "Nur einmal speichern."]
    assert repeats == 4
    # The log line of a repeat does not call its ticket new (issue 23.6).
    lines = [line for line in desk.log.read_text().splitlines() if "repeated delivery of message" in line]
    assert len(lines) == 4 and all("(repeated_delivery)" in line for line in lines), lines


@pytest.fixture(params=backends())
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'postdesk.db'}"
        return
    with postgres_database() as url:
        yield url


def test_every_zammad_fixture_becomes_a_message(store_url: str, tmp_path: Path) -> None:
    """7 of the 108 reuse another fixture's Message-ID (ServiceNow and JIRA updates
    under a new subject, one mail from several senders): they are mails of their own."""
    boxes = sorted((corpus_dir() / ZAMMAD_MAIL).glob("mail*.box"))
    assert len(boxes) == 108
    env = {
        "POSTDESK_STORE__URL": store_url,
        "POSTDESK_OUTBOUND__TRANSPORT": f"maildir:{tmp_path / 'outbox'}",
        "POSTDESK_DESK__SECRET": "corpus",
        "POSTDESK_LOG__LEVEL": "warning",
    }
    desk = open_desk(load_settings(None, env), migrate=True)
    try:
        runner = CliRunner()
        inbound = []
        for box in boxes:
            result = runner.invoke(
                main, ["mailgate", "--recipient", "support@example.com"], input=box.read_bytes(), env=env
            )
            assert result.exit_code == 0, f"{box.name}: {result.output}"
            inbound.append(int(re.search(r"stored as inbound (\d+)", result.stderr)[1]))
        processor = desk.processor()
        while processor.process_pending(limit=500):
            pass
        with desk.store.read() as session:
            became = set(
                session.execute(select(Message.inbound_id).where(Message.inbound_id.in_(inbound))).scalars()
            )
            results = dict(session.execute(select(Inbound.id, Inbound.result)).all())
    finally:
        desk.store.dispose()
    missing = {box.name: results.get(i) for box, i in zip(boxes, inbound, strict=True) if i not in became}
    assert missing == {}
    assert len(became) == 108
