"""Outbound delivery through a real SMTP relay (an aiosmtpd sink on loopback)."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from conftest import free_port, make_mail
from postdesk.deliver.delivery import Envelope, MaildirTransport
from postdesk.store.models import Outbox


class Sink:
    """An SMTP server that keeps what it receives, or refuses with a fixed reply."""

    def __init__(self, reply: str = "250 OK") -> None:
        self.reply = reply
        self.received: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if self.reply.startswith("250"):
            with self.lock:
                self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return self.reply


@pytest.fixture
def relay_port() -> int:
    return free_port()


def start_sink(port: int, reply: str = "250 OK") -> tuple[Controller, Sink]:
    sink = Sink(reply)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, sink


def outbox_rows(desk) -> list[Outbox]:  # type: ignore[no-untyped-def]
    with desk.store.transaction() as session:
        return list(session.execute(select(Outbox)).scalars())


def test_acknowledgement_goes_through_the_relay(make_desk, relay_port: int) -> None:
    controller, sink = start_sink(relay_port)
    try:
        desk = make_desk({"outbound": {"transport": f"smtp://127.0.0.1:{relay_port}"}})
        desk.start()
        desk.send(make_mail(sender="kim@customer.example"))
        desk.wait_until(lambda: sink.received, what="the relay to receive the acknowledgement")
        mail_from, rcpts, raw = sink.received[0]
        assert mail_from == "support@example.com" and rcpts == ["kim@customer.example"]
        ack = email.message_from_bytes(raw, policy=email.policy.default)
        assert ack["Subject"].startswith("[Ticket#10001]")
        [row] = outbox_rows(desk)
        assert row.status == "sent" and row.attempts == 1
        # A restart sends nothing again.
        desk.stop()
        desk.start()
        time.sleep(1.0)
        assert len(sink.received) == 1
    finally:
        controller.stop()


def test_relay_down_is_retried_and_delivered_once(make_desk, relay_port: int) -> None:
    desk = make_desk(
        {
            "outbound": {
                "transport": f"smtp://127.0.0.1:{relay_port}",
                "retry_base_seconds": 0.3,
                "retry_max_seconds": 0.6,
            }
        }
    )
    desk.start()
    desk.send(make_mail())
    desk.wait_until(
        lambda: any(r.attempts >= 2 and r.status == "pending" for r in outbox_rows(desk)),
        what="two failed delivery attempts",
    )
    [row] = outbox_rows(desk)
    assert "ConnectionRefused" in (row.last_error or "")
    controller, sink = start_sink(relay_port)
    try:
        desk.wait_until(lambda: sink.received, what="delivery once the relay is up")
        time.sleep(1.5)  # several retry periods: nothing is sent twice
        assert len(sink.received) == 1
        [row] = outbox_rows(desk)
        assert row.status == "sent"
    finally:
        controller.stop()


def test_relay_5xx_is_final(make_desk, relay_port: int) -> None:
    controller, sink = start_sink(relay_port, reply="550 5.1.1 No such user")
    try:
        desk = make_desk({"outbound": {"transport": f"smtp://127.0.0.1:{relay_port}"}})
        desk.start()
        desk.send(make_mail())
        desk.wait_until(
            lambda: any(r.status == "failed" for r in outbox_rows(desk)), what="a failed outbox row"
        )
        [row] = outbox_rows(desk)
        assert row.attempts == 1 and "550" in (row.last_error or "")
    finally:
        controller.stop()


def test_maildir_delivery_is_idempotent(tmp_path: Path) -> None:
    transport = MaildirTransport(tmp_path / "outbox")
    mail = Envelope(
        7, "ack.1@example.com", "support@example.com", ("kim@customer.example",), b"Subject: x\r\n\r\nhi\r\n"
    )
    transport.send(mail)
    transport.send(mail)  # e.g. after a crash before the outbox row was marked sent
    files = list((tmp_path / "outbox" / "new").iterdir())
    assert len(files) == 1
    assert files[0].read_bytes().endswith(b"hi\r\n")
