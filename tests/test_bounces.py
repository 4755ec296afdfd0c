"""Bounces of the desk's own mail: found by the returned Message-ID, the outbox row marked failed."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from agents_support import ANNA, KIM, kinds, start_agent_desk
from conftest import make_mail, open_local_desk, spool
from corpus import corpus_dir, corpus_file
from postdesk.deliver.delivery import Envelope, MaildirTransport
from postdesk.parse.mime import parse_mail
from postdesk.pipeline.stages.bounce import bounce_facts, returned_message_ids
from postdesk.store.models import Outbox
from test_delivery import relay_port, start_sink  # noqa: F401 - relay_port is a fixture

BSD = "sisimai-set-of-emails/maildir/bsd"
RETURNED_ID = re.compile(rb"(?im)^message-id:\s*<?([^\s<>]+)>?")


def corpus_mail(name: str) -> bytes:
    return corpus_file(f"{BSD}/{name}").read_bytes()


@pytest.mark.parametrize(
    ("name", "original", "status"),
    [
        ("lhost-postfix-03.eml", "20140701000000.000000000000@e1.example.ne.jp", "5.0.0"),  # RFC 3464 DSN
        ("lhost-exim-01.eml", "E1P1ce6-000Egt-GZ@e1.example.org", "5.7.0"),  # returned as text
        ("lhost-office365-01.eml", "FFFFFFFF.EEEEEEEE@example.ed.jp", "5.1.10"),
    ],
)
def test_the_returned_message_id_and_status_are_read(name: str, original: str, status: str) -> None:
    mail = parse_mail(corpus_mail(name))
    found = returned_message_ids(mail)
    assert found.index(original) < found.index(mail.message_id)
    assert bounce_facts(mail).status == status


def test_a_real_bounce_of_an_acknowledgement_marks_it_failed(make_desk, relay_port: int) -> None:  # noqa: F811
    controller, sink = start_sink(relay_port)
    try:
        desk = make_desk({"outbound": {"transport": f"smtp://127.0.0.1:{relay_port}"}})
        start_agent_desk(desk)
        desk.send(make_mail(sender=f"Kim <{KIM}>"), sender=KIM)
        ack_raw = desk.wait_until(
            lambda: [raw for _, rcpts, raw in sink.received if rcpts == [KIM]], what="the acknowledgement"
        )[0]
        ack = email.message_from_bytes(ack_raw, policy=email.policy.default)
        ack_id = ack["Message-ID"].strip("<>")
        bounce = corpus_mail("lhost-postfix-03.eml").replace(
            b"20140701000000.000000000000@e1.example.ne.jp", ack_id.encode()
        )
        desk.send(bounce, sender="", recipients=("support@example.com",))

        def ack_row() -> Outbox | None:
            with desk.store.read() as session:
                row = session.execute(select(Outbox).where(Outbox.message_id == ack_id)).scalar_one()
                return row if row.status == "failed" else None

        row = desk.wait_until(ack_row, what="the acknowledgement's outbox row to be failed")
        assert row.last_error.startswith("bounced: 5.0.0") and row.ticket_id == 10001
        assert kinds(desk, 10001)[:3] == ["customer", "acknowledgement", "agent_notification"]
        assert "bounce" in kinds(desk, 10001)
        notice = desk.wait_until(
            lambda: [raw for _, rcpts, raw in sink.received if rcpts == [ANNA] and b"Unzustellbar" in raw],
            what="the agents' bounce notice",
        )
        assert len(notice) == 1
        # Nothing went back to the mail system that bounced, nor a second mail to the customer.
        recipients = [rcpt for _, rcpts, _ in sink.received for rcpt in rcpts]
        assert recipients.count(KIM) == 1 and all("daemon" not in r.lower() for r in recipients)
    finally:
        controller.stop()


def test_a_bounce_filed_while_its_mail_is_in_flight_is_not_overwritten(tmp_path: Path, databases) -> None:
    """The relay takes the acknowledgement and the remote server's bounce is filed before the
    sender records the send: the outbox row stays failed (the bounce is the later news)."""
    desk = open_local_desk(tmp_path, databases)
    processor = desk.processor()
    spool(desk.store, make_mail(sender=f"Kim <{KIM}>").as_bytes(), KIM, ("support@example.com",))
    processor.process_pending()

    class BouncedInFlight(MaildirTransport):
        def send(self, mail: Envelope) -> None:
            super().send(mail)
            bounce = corpus_mail("lhost-postfix-03.eml").replace(
                b"20140701000000.000000000000@e1.example.ne.jp", mail.message_id.encode()
            )
            spool(desk.store, bounce, "", ("support@example.com",))
            assert processor.process_pending() == 1

    sender = replace(desk.sender(), transport=BouncedInFlight(tmp_path / "outbox"))
    assert sender.send_due() == (1, 0)
    with desk.store.read() as session:
        row = session.execute(select(Outbox)).scalar_one()
    assert row.status == "failed" and row.last_error.startswith("bounced: 5.0.0")
    assert row.sent_at is not None and row.attempts == 1
    desk.store.dispose()


def test_the_returned_message_id_is_found_in_nearly_every_corpus_bounce() -> None:
    """Over every lhost-* bounce whose file holds a second Message-ID header (the returned mail's)."""
    files = sorted((corpus_dir() / BSD).glob("lhost-*.eml"))
    holding, found, with_status = 0, 0, 0
    for path in files:
        raw = path.read_bytes()
        mail = parse_mail(raw)
        returned = [h.decode("utf-8", "replace") for h in RETURNED_ID.findall(raw)[1:]]
        with_status += bounce_facts(mail).status != "unknown"
        if returned:
            holding += 1
            candidates = returned_message_ids(mail)
            found += any(message_id in candidates for message_id in returned)
    assert holding > 350 and found / holding >= 0.98, (found, holding)
    assert with_status / len(files) >= 0.75
