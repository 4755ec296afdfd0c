"""Limits of the SMTP listener under load (issue 16.5/16.6), over loopback against `postdesk serve`.

- `max_sessions`: one connection too many is answered 421 at connect (the sender retries later);
- a line far longer than RFC 5321's 1000 octets (2 MB, within max_message_bytes) is stored, byte for byte.
"""

from __future__ import annotations

import smtplib
import socket
import time

from conftest import Desk, make_mail
from listener_support import Dialogue, stored


def test_one_session_over_max_sessions_gets_421_at_connect(make_desk) -> None:
    desk: Desk = make_desk({"ingest": {"smtp": {"max_sessions": 3}}})
    desk.start()
    open_sessions = [smtplib.SMTP("127.0.0.1", desk.port, timeout=30) for _ in range(3)]
    try:
        for client in open_sessions:
            assert client.noop()[0] == 250
        extra = Dialogue(desk.port)
        try:
            assert extra.reply() == "421 4.7.0 too busy, try later"
            assert extra.file.readline() == b""  # and the connection is closed
        finally:
            extra.close()
        # The sessions already open go on working.
        refused = open_sessions[0].sendmail(
            "kim@customer.example", ["support@example.com"], make_mail().as_bytes()
        )
        assert refused == {}
    finally:
        for client in open_sessions:
            client.quit()
    # Once they are gone, a new session is welcome again.
    desk.wait_until(_greets(desk.port), timeout=10, what="a greeting after the sessions ended")
    assert len(stored(desk)) == 1


def test_the_default_limit_is_100_sessions(desk: Desk) -> None:
    # The fixture's own probe connection must be gone first, or it is the 100th.
    smtplib.SMTP("127.0.0.1", desk.port, timeout=30).quit()
    time.sleep(1)
    sockets = [socket.create_connection(("127.0.0.1", desk.port), timeout=30) for _ in range(100)]
    try:
        greetings = [sock.recv(4) for sock in sockets]
        assert greetings == [b"220 "] * 100, greetings
        with socket.create_connection(("127.0.0.1", desk.port), timeout=30) as extra:
            assert extra.recv(100) == b"421 4.7.0 too busy, try later\r\n"
    finally:
        for sock in sockets:
            sock.close()


def _greets(port: int):
    def check() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            return sock.recv(4).startswith(b"220")

    return check


def test_a_two_megabyte_line_is_stored_byte_identical(desk: Desk) -> None:
    # Past the old listener's 1 MiB line limit, far within the default max_message_bytes (25 MiB).
    long_line = b"".join(b"%07d " % n for n in range(250_000))  # 2,000,000 octets, no line break
    raw = (
        b"From: Kim <kim@customer.example>\r\nTo: support@example.com\r\nSubject: long line\r\n"
        b"Message-ID: <long-line@customer.example>\r\n\r\n"
        b"before\r\n"
        + long_line
        + b"\r\n.leading dot\r\n..two dots\r\n"
        + long_line[:300_000]
        + b"\r\nend\r\n"
    )
    with smtplib.SMTP("127.0.0.1", desk.port, timeout=60) as client:
        client.ehlo()
        client.mail("kim@customer.example")
        client.rcpt("support@example.com")
        code, answer = client.data(raw)
    assert code == 250, answer
    [(_recipients, kept)] = stored(desk)
    assert kept == raw


def test_a_long_line_over_the_size_limit_is_still_552(make_desk) -> None:
    desk: Desk = make_desk({"ingest": {"smtp": {"max_message_bytes": 100_000}}})
    desk.start()
    raw = b"Subject: x\r\n\r\n" + b"y" * 300_000 + b"\r\n"
    with smtplib.SMTP("127.0.0.1", desk.port, timeout=60) as client:
        client.ehlo()
        client.mail("kim@customer.example")
        client.rcpt("support@example.com")
        code, _ = client.data(raw)
    assert code == 552
    assert stored(desk) == []
