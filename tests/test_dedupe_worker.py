"""The dedupe stage inside a pipeline worker (in-process, on each store backend): the worker's own index
is filled as mail is processed and reused, and a restarted worker rebuilds it from the store."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from conftest import InProcessDesk, make_mail, open_local_desk, spool
from postdesk.store.models import DedupeEntry, Inbound
from postdesk.store.queries import ticket_detail

BODY = "Hallo,\n\nmein Postfach ist voll und ich bekomme keine E-Mails mehr.\n\nViele Grüße\nKim\n"


def test_the_worker_keeps_and_rebuilds_its_index(tmp_path: Path, databases) -> None:
    desk = open_local_desk(tmp_path, databases)
    processor = desk.processor()
    assert processor.dedupe_index is not None and len(processor.dedupe_index) == 0

    def send(subject: str) -> None:
        mail = make_mail(sender="Kim <kim@customer.example>", subject=subject, body=BODY)
        spool(desk.store, mail.as_bytes(), "kim@customer.example", ("support@example.com",))

    send("Postfach voll")
    assert processor.process_pending() == 1
    # The worker's own index took in the mail it filed (an empty index is still the worker's).
    assert len(processor.dedupe_index) == 1
    send("DRINGEND: Postfach voll")
    processor.process_pending()
    assert len(processor.dedupe_index) == 2

    restarted = desk.processor()
    assert restarted.dedupe_index is not None and len(restarted.dedupe_index) == 2
    send("Postfach voll!!!")
    restarted.process_pending()
    with desk.store.read() as session:
        detail = ticket_detail(session, 10001)
    assert detail is not None and detail["merged_count"] == 2
    assert [m["duplicate"] for m in detail["messages"] if m["direction"] == "in"] == [False, True, True]
    desk.store.dispose()


def _send(desk: InProcessDesk, subject: str, body: str = BODY, **headers: str) -> None:
    mail = make_mail(sender="Kim <kim@customer.example>", subject=subject, body=body, **headers)
    spool(desk.store, mail.as_bytes(), "kim@customer.example", ("support@example.com",))


def test_a_repeat_in_the_same_batch_is_merged(tmp_path: Path, databases) -> None:
    """One batch, one transaction: the second mail is decided on with the first one already filed."""
    desk = open_local_desk(tmp_path, databases)
    processor = desk.processor()
    _send(desk, "Postfach voll")
    _send(desk, "Postfach voll!!!")
    assert processor.process_pending() == 2
    with desk.store.read() as session:
        detail = ticket_detail(session, 10001)
        assert session.scalar(select(func.count()).select_from(Inbound).where(Inbound.status == "done")) == 2
    assert detail is not None and detail["merged_count"] == 1
    desk.store.dispose()


def test_a_mail_rolled_back_after_filing_leaves_the_index(tmp_path: Path, databases) -> None:
    """A mail whose processing fails after dedupe filed it is rolled back, and its entry leaves the
    worker's index too: the store may give its id to the next mail (SQLite does), and a stale entry
    under that id would merge the next mail into a ticket that does not exist."""
    broken = tmp_path / "templates" / "de"
    broken.mkdir(parents=True)
    (broken / "acknowledgement.txt").write_text("{% block subject %}{{ 1 / 0 }}{% endblock %}\n")
    desk = open_local_desk(tmp_path, databases, POSTDESK_TEMPLATES__PATH=str(tmp_path / "templates"))
    processor = desk.processor()
    _send(desk, "Postfach voll")  # German: its acknowledgement fails to render
    processor.process_pending()
    index = processor.dedupe_index
    assert index is not None and len(index) == 0 and index.last_id == 0
    with desk.store.read() as session:
        assert session.scalar(select(Inbound.status)) == "failed"
        assert session.scalar(select(func.count()).select_from(DedupeEntry)) == 0

    # The same request in English (its acknowledgement renders): a new ticket, then a repeat merged on it.
    english = "Hello,\n\nmy mailbox is full and I do not get any mail any more.\n\nKind regards\nKim\n"
    _send(desk, "Mailbox full", english)
    _send(desk, "Mailbox full!!!", english)
    assert processor.process_pending() == 2
    with desk.store.read() as session:
        entries = session.execute(select(DedupeEntry.id, DedupeEntry.ticket_id)).all()
        detail = ticket_detail(session, entries[0].ticket_id)
    assert {entry.id: entry.ticket_id for entry in index.entries()} == dict(entries)
    assert detail is not None and detail["merged_count"] == 1
    desk.store.dispose()
