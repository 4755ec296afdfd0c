"""Crash safety: SIGKILL the server in the middle of a burst; nothing that got
a 250 is lost, nothing is stored twice, and the pipeline finishes them all."""

from __future__ import annotations

import random
import signal
import smtplib
import threading
import time

from sqlalchemy import func, select

from conftest import Desk, make_mail
from postdesk.store.models import Inbound, Message

SENDERS = 4
PER_SENDER = 150


def burst(desk: Desk, accepted: set[str], lock: threading.Lock, worker: int, stop: threading.Event) -> None:
    """Send this worker's messages one per connection, like an MTA; stop at the first failure."""
    for n in range(PER_SENDER):
        if stop.is_set():
            return
        subject = f"crash-{worker}-{n}"
        message = make_mail(
            sender=f"user{worker}@customer.example", subject=subject, body=f"Message {subject}\n"
        )
        message.replace_header("Message-ID", f"<{subject}@customer.example>")
        try:
            desk.send(message, sender=f"user{worker}@customer.example")
        except (OSError, smtplib.SMTPException):
            return
        with lock:
            accepted.add(subject)


def all_subjects() -> set[str]:
    return {f"crash-{w}-{n}" for w in range(SENDERS) for n in range(PER_SENDER)}


def test_sigkill_during_a_burst_loses_nothing_and_doubles_nothing(desk: Desk) -> None:
    accepted: set[str] = set()
    lock, stop = threading.Lock(), threading.Event()
    threads = [threading.Thread(target=burst, args=(desk, accepted, lock, w, stop)) for w in range(SENDERS)]
    for thread in threads:
        thread.start()
    desk.wait_until(lambda: len(accepted) >= 40, what="the burst to get going")
    time.sleep(random.uniform(0.0, 0.5))
    assert desk.proc is not None
    desk.proc.send_signal(signal.SIGKILL)
    desk.proc.wait()
    stop.set()
    for thread in threads:
        thread.join()
    acknowledged_before_kill = set(accepted)
    assert acknowledged_before_kill, "the kill came before any message was accepted"

    desk.start()
    # Like a real MTA, the clients retry what never got a 250; some of those
    # were stored before the kill, and must not be stored twice.
    for subject in sorted(all_subjects() - acknowledged_before_kill):
        worker = subject.split("-")[1]
        message = make_mail(
            sender=f"user{worker}@customer.example", subject=subject, body=f"Message {subject}\n"
        )
        message.replace_header("Message-ID", f"<{subject}@customer.example>")
        desk.send(message, sender=f"user{worker}@customer.example")

    def pipeline_idle() -> bool:
        with desk.store.transaction() as session:
            return not session.execute(
                select(func.count()).select_from(Inbound).where(Inbound.status == "pending")
            ).scalar_one()

    desk.wait_until(pipeline_idle, timeout=120, what="the pipeline to finish")
    with desk.store.transaction() as session:
        failed = session.execute(
            select(func.count()).select_from(Inbound).where(Inbound.status == "failed")
        ).scalar_one()
        stored = session.execute(
            select(Message.message_id, func.count())
            .where(Message.direction == "in")
            .group_by(Message.message_id)
        ).all()
    counts = {message_id.split("@")[0]: n for message_id, n in stored}
    assert failed == 0
    assert set(counts) == all_subjects()
    assert all(n == 1 for n in counts.values()), {k: n for k, n in counts.items() if n != 1}
    # One acknowledgement per ticket, no more: the outbox shows what was queued.
    acks = desk.json("tickets", "list")
    assert len(acks) == len(all_subjects())
