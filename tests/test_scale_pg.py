"""Scale-out on PostgreSQL: 2 listener processes, 4 pipeline workers and 2
senders share one database. Mail goes in over SMTP on parallel connections
while one worker is SIGKILLed mid-run and started again. Every mail must be
stored once, processed once (one message row, one ticket) and acknowledged
once (one mail at the relay per acknowledgement).

POSTDESK_SCALE_MAILS sets the number of mails (default 1000 to keep CI
short; docs/deploy.md records the 5,000-mail run).
"""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from conftest import free_port, make_mail, toml_dump
from pg_support import postgres_database
from postdesk.store.models import Inbound, Message, Outbox, Ticket
from postdesk.store.session import Store, open_store

MAILS = int(os.environ.get("POSTDESK_SCALE_MAILS", "1000"))
CONNECTIONS = 16
WORKERS = 4
LISTENERS = 2
SENDERS = 2
CUSTOMERS = 250  # several mails per customer: workers race for the same contact rows


class Recorder:
    """An SMTP relay that keeps every mail it is given (aiosmtpd on loopback)."""

    def __init__(self) -> None:
        self.mails: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        with self.lock:
            self.mails.append(envelope.content)
        return "250 OK"


@dataclass
class Fleet:
    """The postdesk processes of one desk, each with its log file."""

    root: Path
    config: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("POSTDESK_")}
        environment.update({"POSTDESK_CONFIG": str(self.config), **(env or {})})
        log = (self.root / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "postdesk", *args],
            cwd=self.root,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def run(self, *args: str) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("POSTDESK_")}
        environment["POSTDESK_CONFIG"] = str(self.config)
        subprocess.run(
            [sys.executable, "-m", "postdesk", *args], cwd=self.root, env=environment, check=True, timeout=120
        )

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in self.procs.values():
            proc.wait(timeout=30)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name} ---\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.root.glob("*.log"))
        )


@pytest.fixture
def relay() -> Iterator[tuple[Recorder, int]]:
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield recorder, port
    controller.stop()


@pytest.fixture
def fleet(tmp_path: Path, relay: tuple[Recorder, int]) -> Iterator[tuple[Fleet, Store, list[int]]]:
    with postgres_database() as url:
        ports = [free_port() for _ in range(LISTENERS)]
        config = tmp_path / "postdesk.toml"
        config.write_text(
            toml_dump(
                {
                    "store": {"url": url, "auto_migrate": False},
                    "desk": {"address": "support@example.com", "secret": "scale-secret", "language": "de"},
                    "outbound": {"transport": f"smtp://127.0.0.1:{relay[1]}", "retry_base_seconds": 0.2},
                    # Every mail gets its acknowledgement: the check is exactly-once, not the
                    # loop guard or the limits (all the customers share one domain).
                    "replies": {
                        "max_acks_per_sender_per_hour": 100_000,
                        "max_acks_per_domain_per_hour": 100_000,
                        "max_acks_per_hour": 100_000,
                    },
                    # One ticket per mail: the dedupe stage would merge a customer's look-alike mails.
                    "dedupe": {"enabled": False},
                    "pipeline": {"poll_seconds": 0.2},
                    "log": {"level": "warning"},
                }
            )
        )
        desks = Fleet(tmp_path, config)
        desks.run("db", "upgrade")
        store = open_store(url)
        try:
            yield desks, store, ports
        finally:
            desks.stop_all()
            store.dispose()


def send_share(port: int, mails: list[bytes], accepted: list[int], lock: threading.Lock) -> None:
    """One connection reused for a share of the mails, as an MTA does."""
    sent = 0
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        for raw in mails:
            client.sendmail("customer@customer.example", ["support@example.com"], raw)
            sent += 1
            if sent % 25 == 0:
                with lock:
                    accepted[0] += 25
    with lock:
        accepted[0] += sent % 25


def counts(store: Store) -> tuple[int, int]:
    with store.read() as session:
        done = session.execute(select(func.count()).where(Inbound.status == "done")).scalar_one()
        sent = session.execute(select(func.count()).where(Outbox.status == "sent")).scalar_one()
    return done, sent


def wait_for(check, timeout: float, what: str, fleet: Fleet) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{fleet.logs()}")


def test_workers_listeners_and_senders_share_one_postgresql(
    fleet: tuple[Fleet, Store, list[int]], relay: tuple[Recorder, int]
) -> None:
    desks, store, ports = fleet
    recorder, _ = relay
    for n, port in enumerate(ports):
        desks.start(
            f"listener{n}",
            "serve",
            "--no-process",
            "--no-send",
            env={"POSTDESK_INGEST__SMTP__PORT": str(port)},
        )
    for n in range(WORKERS):
        desks.start(f"worker{n}", "process")
    for n in range(SENDERS):
        desks.start(f"sender{n}", "send")
    for port in ports:
        wait_for(lambda p=port: _listening(p), 30, f"a listener on {port}", desks)

    mails = []
    for n in range(MAILS):
        mail = make_mail(
            sender=f"Kunde {n % CUSTOMERS} <kunde{n % CUSTOMERS}@customer.example>",
            subject=f"scale mail {n}",
            body=f"Mail number {n} of the scale test.\n",
        )
        mail.replace_header("Message-ID", f"<scale-{n}@customer.example>")
        mails.append(mail.as_bytes())
    accepted, lock = [0], threading.Lock()
    senders = [
        threading.Thread(
            target=send_share, args=(ports[i % LISTENERS], mails[i::CONNECTIONS], accepted, lock)
        )
        for i in range(CONNECTIONS)
    ]
    began = time.monotonic()
    for thread in senders:
        thread.start()

    # Kill one worker while the others are busy, then start it again.
    wait_for(lambda: counts(store)[0] >= MAILS // 5, 300, "a fifth of the mail processed", desks)
    desks.kill("worker0")
    time.sleep(1.0)
    desks.start("worker0", "process")

    for thread in senders:
        thread.join(timeout=600)
    assert accepted[0] == MAILS
    budget = 120 + MAILS * 0.12
    wait_for(lambda: counts(store) == (MAILS, MAILS), budget, "every mail processed and answered", desks)
    wait_for(lambda: len(recorder.mails) >= MAILS, 60, "the relay to have every acknowledgement", desks)
    time.sleep(1.0)  # anything sent twice would arrive now
    seconds = time.monotonic() - began

    with store.read() as session:
        statuses = dict(session.execute(select(Inbound.status, func.count()).group_by(Inbound.status)).all())
        repeats = session.execute(
            select(func.count()).where(Inbound.result.like("repeated delivery%"))
        ).scalar_one()
        per_inbound = session.execute(
            select(Message.inbound_id, func.count())
            .where(Message.direction == "in")
            .group_by(Message.inbound_id)
        ).all()
        tickets = session.execute(select(Ticket.id)).scalars().all()
        outbox = session.execute(select(Outbox.message_id, Outbox.attempts, Outbox.ticket_id)).all()

    # Stored once, processed once: one message row per inbound row, no repeats.
    assert statuses == {"done": MAILS}
    assert repeats == 0
    assert len(per_inbound) == MAILS and {count for _, count in per_inbound} == {1}
    # One ticket per mail, numbers unique (their ids) and from the configured start.
    assert len(tickets) == len(set(tickets)) == MAILS
    assert min(tickets) >= 10001
    # Acknowledged once: one outbox row per ticket, each sent on its first attempt,
    # and the relay got each exactly once.
    assert len(outbox) == MAILS and {attempts for _, attempts, _ in outbox} == {1}
    assert sorted(ticket for _, _, ticket in outbox) == sorted(tickets)
    received = Counter(_message_id(raw) for raw in recorder.mails)
    assert max(received.values()) == 1, received.most_common(3)
    assert set(received) == {message_id for message_id, _, _ in outbox}
    subjects = {int(re.search(r"\[Ticket#(\d+)\]", _subject(raw))[1]) for raw in recorder.mails}
    assert subjects == set(tickets)
    print(f"\n{MAILS} mails: in, processed and answered in {seconds:.1f} s ({MAILS / seconds:.0f}/s)")


def _listening(port: int) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=2) as client:
            return client.noop()[0] == 250
    except OSError:
        return False


def _message_id(raw: bytes) -> str:
    return str(message_from_bytes(raw, policy=default_policy)["Message-ID"]).strip("<>")


def _subject(raw: bytes) -> str:
    return str(message_from_bytes(raw, policy=default_policy)["Subject"])


def test_hosts_starting_together_migrate_once(tmp_path: Path) -> None:
    """Several `db upgrade` (as `serve` runs it on start) at once on an empty
    PostgreSQL: they take turns, all succeed, and the schema is current."""
    with postgres_database() as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POSTDESK_")}
        env.update({"POSTDESK_STORE__URL": url, "POSTDESK_DESK__SECRET": "s"})
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "postdesk", "db", "upgrade"],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(3)
        ]
        outputs = [proc.communicate(timeout=120) for proc in procs]
        assert [proc.returncode for proc in procs] == [0, 0, 0], [err.decode()[-2000:] for _, err in outputs]
        status = subprocess.run(
            [sys.executable, "-m", "postdesk", "db", "status"], cwd=tmp_path, env=env, capture_output=True
        )
        assert status.returncode == 0, status.stderr.decode()
