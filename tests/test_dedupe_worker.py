"""The dedupe stage inside a pipeline worker (in-process, on each store backend): the worker's own index
is filled as mail is processed and reused, and a restarted worker rebuilds it from the store."""

from __future__ import annotations

from pathlib import Path

from conftest import make_mail
from postdesk.app import open_desk
from postdesk.config import load_settings
from postdesk.ingest.mailgate import deliver
from postdesk.store.queries import ticket_detail

BODY = "Hallo,\n\nmein Postfach ist voll und ich bekomme keine E-Mails mehr.\n\nViele Grüße\nKim\n"


def test_the_worker_keeps_and_rebuilds_its_index(tmp_path: Path, databases) -> None:
    settings = load_settings(
        None,
        {
            "POSTDESK_STORE__URL": databases.url(tmp_path),
            "POSTDESK_OUTBOUND__TRANSPORT": f"maildir:{tmp_path / 'outbox'}",
            "POSTDESK_DESK__SECRET": "test",
        },
    )
    desk = open_desk(settings, migrate=True)
    processor = desk.processor()
    assert processor.dedupe_index is not None and len(processor.dedupe_index) == 0

    def send(subject: str) -> None:
        mail = make_mail(sender="Kim <kim@customer.example>", subject=subject, body=BODY)
        deliver(desk.store, mail.as_bytes(), "kim@customer.example", ("support@example.com",))

    send("Postfach voll")
    assert processor.process_pending() == 1
    # The index reads committed mail only: the next decision takes the first mail in.
    send("DRINGEND: Postfach voll")
    processor.process_pending()
    # The worker's own index caught up (an empty index is still the worker's, not a throwaway).
    assert len(processor.dedupe_index) == 1

    restarted = desk.processor()
    assert restarted.dedupe_index is not None and len(restarted.dedupe_index) == 2
    send("Postfach voll!!!")
    restarted.process_pending()
    with desk.store.read() as session:
        detail = ticket_detail(session, 10001)
    assert detail is not None and detail["merged_count"] == 2
    assert [m["duplicate"] for m in detail["messages"] if m["direction"] == "in"] == [False, True, True]
    desk.store.dispose()
