"""Portable storage: what PostgreSQL refuses that SQLite takes is stored the
same on both, and the spool's group commit holds up with several writers."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from conftest import Desk
from postdesk.parse.mime import NUL_DEFECT, parse_mail
from postdesk.receive.spool import Received, SpoolWriter
from postdesk.store.migrate import upgrade
from postdesk.store.models import Inbound, Message
from postdesk.store.session import open_store

WITH_NUL = (
    b"From: Kim\x00 Kunde <kim@customer.example>\r\n"
    b"To: support@example.com\r\n"
    b"Subject: Fehler\x00 im Export\r\n"
    b"Message-ID: <nul-1@customer.example>\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"Der Export enth=C3=A4lt =00 mitten im Text.\r\n"
)


def test_nul_characters_are_replaced_and_flagged() -> None:
    mail = parse_mail(WITH_NUL)
    assert mail.subject == "Fehler\ufffd im Export"
    assert "enthält \ufffd mitten" in mail.text
    assert mail.from_ is not None and mail.from_.name == "Kim\ufffd Kunde"
    assert NUL_DEFECT in mail.defects
    assert NUL_DEFECT not in parse_mail(WITH_NUL.replace(b"\x00", b"").replace(b"=00", b"")).defects


def test_a_mail_with_nul_characters_becomes_a_ticket(desk: Desk) -> None:
    desk.send(WITH_NUL)

    def stored() -> Message | None:
        with desk.store.read() as session:
            return session.execute(select(Message).where(Message.direction == "in")).scalar_one_or_none()

    message = desk.wait_until(stored, what="the message to be stored")
    assert message.subject == "Fehler\ufffd im Export"
    assert NUL_DEFECT in message.defects
    with desk.store.read() as session:
        assert session.execute(select(Inbound.status)).scalars().all() == ["done"]


def test_spool_writers_commit_everything_once_and_stop_cleanly(tmp_path, databases) -> None:
    """Several group-commit writers (PostgreSQL's default) under concurrent
    submitters: every message gets its own committed row, and stop() ends
    every writer after the queue is drained."""
    store = open_store(databases.url(tmp_path))
    upgrade(store)
    writer = SpoolWriter(store, writers=4, max_batch=8)
    writer.start()
    futures: list = []
    lock = threading.Lock()

    def submit(worker: int) -> None:
        for n in range(50):
            future = writer.submit(
                Received(f"Subject: {worker}-{n}\r\n\r\nx\r\n".encode(), "test", None, ("a@b",))
            )
            with lock:
                futures.append(future)

    threads = [threading.Thread(target=submit, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.stop()
    ids = [future.result(timeout=0) for future in futures]
    assert len(ids) == len(set(ids)) == 200
    with store.read() as session:
        assert session.execute(select(func.count()).select_from(Inbound)).scalar_one() == 200
    store.dispose()
