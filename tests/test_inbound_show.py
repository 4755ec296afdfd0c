"""A mail nested 200 MIME levels deep keeps its text, through the real
listener and the mailgate (issue 17.6); `postdesk inbound show` prints a
stored message's parse result, and with --raw its bytes as stored."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import select

from conftest import Desk
from postdesk.store.models import InboundRaw
from test_desk_e2e import wait_processed

BOTTOM = "Ganz unten: ich komme seit gestern nicht mehr in mein Postfach."


def deep_mail(depth: int, sender: str = "kim@customer.example") -> bytes:
    """A real multipart tree DEPTH levels deep: the text and a file sit at the bottom."""
    head = (
        f"From: Kim Kunde <{sender}>\r\nTo: support@example.com\r\nSubject: Tief verschachtelt\r\n"
        f"Message-ID: <deep-{depth}@customer.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n"
        "MIME-Version: 1.0\r\n"
    ).encode()
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="level-%d"\r\n\r\n--level-%d\r\n' % (i, i)
        for i in range(depth)
    )
    bottom = (
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + BOTTOM.encode()
        + b"\r\n--level-%d\r\n" % (depth - 1)
        + b"Content-Type: text/plain; name=log.txt\r\n"
        b"Content-Disposition: attachment; filename=log.txt\r\n\r\nlogin failed\r\n"
    )
    closing = b"".join(b"--level-%d--\r\n" % i for i in reversed(range(depth)))
    return head + opening + bottom + closing


def test_a_200_deep_mail_through_the_listener_shows_its_text(desk: Desk) -> None:
    raw = deep_mail(200)
    desk.send(raw)
    wait_processed(desk, 1)
    [ticket] = desk.json("tickets", "list")
    shown = desk.run("tickets", "show", str(ticket["number"])).stdout.decode()
    assert BOTTOM in shown and "log.txt" in shown

    detail = desk.json("inbound", "show", "1")
    assert (
        detail["status"] == "done" and detail["ticket"] == ticket["number"] and detail["kind"] == "customer"
    )
    assert detail["text"] == BOTTOM and detail["subject"] == "Tief verschachtelt"
    assert detail["from"] == "kim@customer.example" and detail["from_name"] == "Kim Kunde"
    assert detail["attachments"] == [{"filename": "log.txt", "content_type": "text/plain", "size": 12}]
    assert detail["defects"] == [] and detail["via"] == "smtp"

    text = desk.run("inbound", "show", "1").stdout.decode()
    assert text.startswith(f"Inbound 1: done, ticket {ticket['number']} (customer)\n")
    assert "From: Kim Kunde <kim@customer.example>\nSubject: Tief verschachtelt\n" in text
    assert text.rstrip("\n").endswith(BOTTOM)

    with desk.store.read() as session:
        stored = session.execute(select(InboundRaw.raw).where(InboundRaw.inbound_id == 1)).scalar_one()
    assert desk.run("inbound", "show", "1", "--raw").stdout == stored


def test_inbound_show_through_the_mailgate_before_and_after_processing(
    make_desk: Callable[..., Desk],
) -> None:
    desk = make_desk()
    desk.run("db", "upgrade")
    raw = deep_mail(200, sender="ina@customer.example")
    stored = desk.run(
        "mailgate", "--sender", "ina@customer.example", "--recipient", "support@example.com", input=raw
    )
    inbound_id = stored.stderr.decode().split("stored as inbound ")[1].split()[0]

    assert desk.run("inbound", "show", inbound_id, "--raw").stdout == raw  # byte for byte, CRLF and all
    pending = desk.json("inbound", "show", inbound_id)
    assert (pending["status"], pending["ticket"], pending["kind"]) == ("pending", None, None)
    assert pending["text"] == BOTTOM and pending["via"] == "mailgate"
    assert pending["recipients"] == ["support@example.com"] and pending["size"] == len(raw)
    assert (
        desk.run("inbound", "show", inbound_id)
        .stdout.decode()
        .startswith(f"Inbound {inbound_id}: pending, no ticket yet\n")
    )

    desk.run("process", "--once")
    done = desk.json("inbound", "show", inbound_id)
    [ticket] = desk.json("tickets", "list")
    assert (done["status"], done["ticket"]) == ("done", ticket["number"])
    assert BOTTOM in json.dumps(desk.json("tickets", "show", str(ticket["number"])), ensure_ascii=False)

    missing = desk.run("inbound", "show", "999", check=False)
    assert missing.returncode == 1 and missing.stderr.decode() == "postdesk: no inbound message 999\n"
    missing_raw = desk.run("inbound", "show", "999", "--raw", check=False)
    assert missing_raw.returncode == 1 and missing_raw.stdout == b""
