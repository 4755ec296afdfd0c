"""IMAP ingest against a real Dovecot on a loopback port (tests/imap_support.py).

Every test reads mail that the test APPENDed over IMAP, through a real
`postdesk serve`, and looks at both ends: the tickets in the store and what
is left in the server's folders.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from conftest import Desk, free_port, make_mail
from corpus import ZAMMAD_MAIL, corpus_dir
from imap_support import (
    DOVECOT,
    PASSWORD,
    Dovecot,
    capabilities_without,
    mailbox,
    start_dovecot,
    with_mailboxes,
)
from postdesk.store.models import Inbound, Message, Ticket
from test_operations import http_get, samples

pytestmark = pytest.mark.skipif(
    not DOVECOT.exists(), reason="Dovecot (Debian dovecot-imapd) is not installed"
)

# What these tests check happens between postdesk and the IMAP server, not in
# the store: they run on SQLite only. The tests of the mailbox state (import,
# crash, UIDVALIDITY, the interrupted move) run on both backends.
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    server = start_dovecot()
    yield server
    server.close()


@pytest.fixture
def imap(dovecot: Dovecot) -> Dovecot:
    """The module's Dovecot with an empty INBOX and no other folders."""
    with dovecot.client() as client:
        for _flags, _delimiter, name in client.list_folders():
            if name != "INBOX":
                client.delete_folder(name)
        client.select_folder("INBOX")
        uids = client.search(["ALL"])
        if uids:
            client.add_flags(uids, [b"\\Deleted"])
            client.uid_expunge(uids)
    return dovecot


def customer_mails(count: int, tag: str) -> list[EmailMessage]:
    """COUNT distinct customers' mails: each becomes a ticket of its own."""
    return [
        make_mail(
            sender=f"Kunde {n} <kunde{n}.{tag}@customer.example>",
            subject=f"{tag}: Anfrage Nummer {n}",
            body=f"Guten Tag,\nich habe Problem {n} ({tag}) mit meinem Postfach.\nGruß\n",
        )
        for n in range(count)
    ]


def inbound_ids(desk: Desk, via: str = "imap:support") -> list[int]:
    with desk.store.read() as session:
        return list(session.execute(select(Inbound.id).where(Inbound.via == via)).scalars())


def all_processed(desk: Desk) -> bool:
    with desk.store.read() as session:
        pending = session.execute(
            select(func.count()).select_from(Inbound).where(Inbound.status != "done")
        ).scalar_one()
        return pending == 0


def received_message_ids(desk: Desk) -> list[str]:
    with desk.store.read() as session:
        return list(session.execute(select(Message.message_id).where(Message.direction == "in")).scalars())


def ticket_count(desk: Desk) -> int:
    with desk.store.read() as session:
        return session.execute(select(func.count()).select_from(Ticket)).scalar_one()


def imap_desk(make_desk: Callable[..., Desk], *mailboxes: dict[str, Any], name: str = "desk") -> Desk:
    return with_mailboxes(make_desk(name=name), *mailboxes)


def log_of(desk: Desk) -> str:
    return desk.log.read_text() if desk.log.exists() else ""


def sessions_in(desk: Desk) -> int:
    """How many times the desk got through to the server (first try or after retries)."""
    log = log_of(desk)
    return log.count("connected to") + log.count("connected again after")


# -- the everyday path ----------------------------------------------------


def test_appended_mail_becomes_tickets_and_moves_to_processed(
    imap: Dovecot, make_desk: Callable[..., Desk]
) -> None:
    corpus = sorted((corpus_dir() / ZAMMAD_MAIL).glob("mail00*.box"))
    if not corpus:
        pytest.skip(f"no Zammad mail in {corpus_dir() / ZAMMAD_MAIL}")
    mails: list[EmailMessage | bytes] = [path.read_bytes() for path in corpus]
    mails.append(make_mail(subject="Ich komme nicht mehr an meine E-Mails"))
    imap.append("INBOX", mails)
    desk = imap_desk(make_desk, mailbox(imap))
    desk.start()

    desk.wait_until(lambda: imap.count("Processed") == len(mails), what="all mail moved to Processed")
    assert imap.count("INBOX") == 0
    desk.wait_until(lambda: len(inbound_ids(desk)) == len(mails) and all_processed(desk), what="processed")
    with desk.store.read() as session:
        results = dict(session.execute(select(Inbound.id, Inbound.result)).all())
    assert not [r for r in results.values() if r and "repeated delivery" in r]
    assert len(received_message_ids(desk)) == len(mails)
    tickets = desk.json("tickets", "list")
    assert "Ich komme nicht mehr an meine E-Mails" in {ticket["subject"] for ticket in tickets}
    status = desk.json("imap", "status")
    assert status[0]["name"] == "support"
    assert status[0]["imported"] == len(mails)
    assert status[0]["last_uid"] >= len(mails)
    # Nothing is imported twice when the desk starts again on the same mailbox.
    desk.stop()
    imap.append("INBOX", [make_mail(subject="Noch eine Frage")])
    desk.start()
    desk.wait_until(lambda: imap.count("Processed") == len(mails) + 1, what="the new mail moved")
    desk.wait_until(lambda: len(inbound_ids(desk)) == len(mails) + 1 and all_processed(desk), what="stored")
    assert PASSWORD not in log_of(desk)


# More than the 500: serve starts its mailboxes before its SMTP
# listener answers (which is when the test's desk.start() returns), and on an
# idle machine 500 mails could be imported within that startup time.
CRASH_MAILS = 1500


def test_sigkill_during_a_large_import_loses_and_doubles_nothing(
    imap: Dovecot, make_desk: Callable[..., Desk]
) -> None:
    mails = customer_mails(CRASH_MAILS, "crash")
    imap.append("INBOX", mails)
    desk = imap_desk(make_desk, mailbox(imap))
    desk.start()
    # Killed as soon as the import is under way: at its first log line or its
    # first batch's commit, whichever the poll sees first (on an idle machine
    # 500 mails are in within two seconds, so waiting for a commit alone can
    # miss the import altogether).
    desk.wait_until(
        lambda: "importing in batches" in log_of(desk) or inbound_ids(desk),
        timeout=60,
        what="the import under way",
    )
    assert desk.proc is not None
    desk.proc.send_signal(signal.SIGKILL)
    desk.proc.wait(timeout=30)
    desk.proc = None
    left = imap.count("INBOX")
    assert left > 0, "the import had finished before the kill; the test proves nothing"

    desk.start()
    # Generous bounds: this proves exactly-once, not speed, and 1,500 mails
    # on PostgreSQL took over two minutes on a loaded CI machine.
    desk.wait_until(lambda: imap.count("INBOX") == 0, timeout=300, what="INBOX emptied after the restart")
    desk.wait_until(lambda: all_processed(desk), timeout=300, what="every stored mail processed")
    assert imap.count("Processed") == CRASH_MAILS
    ids = received_message_ids(desk)
    assert sorted(ids) == sorted(m["Message-ID"].strip("<>") for m in mails)
    assert ticket_count(desk) == CRASH_MAILS
    assert "messages waiting; importing in batches of 100" in log_of(desk)
    assert "interrupted" in log_of(desk) or len(inbound_ids(desk)) == CRASH_MAILS


@SQLITE_ONLY
def test_dovecot_restarted_while_postdesk_idles(imap: Dovecot, make_desk: Callable[..., Desk]) -> None:
    desk = imap_desk(make_desk, mailbox(imap))
    desk.start()
    desk.wait_until(lambda: "IDLE" in log_of(desk), what="postdesk in IDLE")
    imap.append("INBOX", customer_mails(1, "before"))
    desk.wait_until(lambda: ticket_count(desk) == 1, what="the first mail as a ticket")

    imap.stop()
    time.sleep(1.5)  # postdesk notices and retries against a closed port meanwhile
    imap.start()
    imap.append("INBOX", customer_mails(3, "meanwhile"))

    desk.wait_until(lambda: ticket_count(desk) == 4, timeout=90, what="mail from after the restart")
    assert imap.count("INBOX") == 0
    log = log_of(desk)
    assert "connected again after" in log
    assert "Traceback" not in log


# -- servers without MOVE / UIDPLUS ---------------------------------------


@pytest.fixture
def make_dovecot() -> Iterator[Callable[[str], Dovecot]]:
    servers: list[Dovecot] = []

    def build(capabilities: str) -> Dovecot:
        server = start_dovecot(capabilities)
        servers.append(server)
        return server

    yield build
    for server in servers:
        server.close()


@SQLITE_ONLY
def test_without_move_copies_flags_and_uid_expunges(
    make_dovecot: Callable[[str], Dovecot], make_desk: Callable[..., Desk]
) -> None:
    server = make_dovecot(capabilities_without("MOVE"))
    server.append("INBOX", customer_mails(5, "nomove"))
    desk = imap_desk(make_desk, mailbox(server))
    assert "COPY + \\Deleted + UID EXPUNGE" in desk.run("imap", "check", "support").stdout.decode()
    desk.start()
    desk.wait_until(lambda: server.count("Processed") == 5, what="copies in Processed")
    desk.wait_until(lambda: server.count("INBOX") == 0, what="originals expunged by UID")
    desk.wait_until(lambda: ticket_count(desk) == 5 and all_processed(desk), what="five tickets")
    assert "the server has no MOVE; moving by COPY + \\Deleted + UID EXPUNGE" in log_of(desk)


@SQLITE_ONLY
def test_without_move_and_uidplus_never_expunges(
    make_dovecot: Callable[[str], Dovecot], make_desk: Callable[..., Desk]
) -> None:
    server = make_dovecot(capabilities_without("MOVE", "UIDPLUS"))
    # Someone else's deleted-but-not-expunged mail: a plain EXPUNGE would remove it.
    server.append("INBOX", customer_mails(1, "someone-elses"))
    with server.client() as client:
        client.select_folder("INBOX")
        client.add_flags(client.search(["ALL"]), [b"\\Deleted"])
    server.append("INBOX", customer_mails(4, "nouidplus"))
    desk = imap_desk(make_desk, mailbox(server))
    desk.start()
    desk.wait_until(lambda: server.count("Processed") == 5, what="copies in Processed")
    desk.wait_until(lambda: server.count("INBOX", "NOT", "DELETED") == 0, what="originals flagged")
    assert server.count("INBOX") == 5, "nothing may be expunged without UIDPLUS"
    desk.wait_until(lambda: ticket_count(desk) == 5 and all_processed(desk), what="five tickets")
    assert "no UIDPLUS, so no EXPUNGE at all" in log_of(desk)
    # A restart does not import the flagged originals again.
    desk.stop()
    desk.start()
    desk.wait_until(lambda: sessions_in(desk) == 2, what="connected again")
    server.append("INBOX", customer_mails(1, "after-restart"))
    desk.wait_until(lambda: ticket_count(desk) == 6, what="the new mail")
    assert server.count("Processed") == 6
    assert len(inbound_ids(desk)) == 6


# -- mistakes and refusals ------------------------------------------------


@SQLITE_ONLY
def test_check_reports_capabilities_and_clear_errors(
    imap: Dovecot, make_desk: Callable[..., Desk], tmp_path: Path
) -> None:
    imap.append("INBOX", customer_mails(3, "check"))
    secret = tmp_path / "imap-password"
    secret.write_text(PASSWORD + "\n")
    desk = imap_desk(
        make_desk,
        mailbox(imap),
        mailbox(imap, name="wrongpw", password="not-the-password"),
        mailbox(imap, name="nofolder", folder="Nope"),
        mailbox(imap, name="tls", security="tls"),
        mailbox(imap, name="viafile", password="", password_file=str(secret)),
        mailbox(imap, name="nofile", password="", password_file=str(secret) + ".missing"),
    )
    ok = desk.run("imap", "check", "support")
    out = ok.stdout.decode()
    assert "IDLE" in out and "MOVE" in out and "UIDPLUS" in out
    assert "folder 'INBOX': 3 message(s), 3 waiting" in out
    report = desk.json("imap", "check", "support")
    assert report["waiting"] == 3 and report["move"] and report["idle"]

    wrong = desk.run("imap", "check", "wrongpw", check=False)
    assert wrong.returncode == 1
    error = wrong.stderr.decode().strip()
    assert error.count("\n") == 0
    assert "login to 127.0.0.1" in error and "refused" in error and "check user and password" in error
    assert "not-the-password" not in error

    missing = desk.run("imap", "check", "nofolder", check=False)
    assert missing.returncode == 1
    assert "folder 'Nope' does not exist" in missing.stderr.decode()

    tls = desk.run("imap", "check", "tls", check=False)
    assert tls.returncode == 1
    assert "TLS handshake failed" in tls.stderr.decode()

    assert desk.json("imap", "check", "viafile")["waiting"] == 3
    nofile = desk.run("imap", "check", "nofile", check=False)
    assert nofile.returncode == 1
    assert "cannot read password_file" in nofile.stderr.decode()

    unknown = desk.run("imap", "check", "other", check=False)
    assert "no [[ingest.imap]] mailbox named 'other'" in unknown.stderr.decode()
    assert imap.count("INBOX") == 3, "check changes nothing"


@SQLITE_ONLY
def test_a_broken_mailbox_does_not_stop_the_others(imap: Dovecot, make_desk: Callable[..., Desk]) -> None:
    imap.append("INBOX", customer_mails(2, "good"))
    imap.append("Other", customer_mails(2, "stays"))
    desk = imap_desk(
        make_desk,
        mailbox(imap, name="broken", folder="Other", password="pw-broken-123"),
        mailbox(imap, name="missing", folder="Nope"),
        mailbox(imap),
    )
    desk.start()
    desk.wait_until(lambda: ticket_count(desk) == 2, what="the good mailbox's mail")
    desk.wait_until(lambda: log_of(desk).count("imap broken: login") >= 2, what="retries of the broken one")
    log = log_of(desk)
    assert "imap broken: login to 127.0.0.1" in log and "trying again in" in log
    assert "imap missing: folder 'Nope' does not exist" in log
    assert "Traceback" not in log
    assert "pw-broken-123" not in log
    assert imap.count("Other") == 2, "mail of the broken mailbox stays on the server"


@SQLITE_ONLY
def test_oversize_mail_goes_to_refused_and_the_rest_is_imported(
    imap: Dovecot, make_desk: Callable[..., Desk]
) -> None:
    big = make_mail(subject="Riesiger Anhang", body="x" * 60_000)
    imap.append("INBOX", [big, *customer_mails(2, "small")])
    metrics_port = free_port()
    desk = with_mailboxes(
        make_desk({"metrics": {"listen": f"127.0.0.1:{metrics_port}"}}),
        mailbox(imap, max_message_bytes=20_000),
    )
    desk.start()
    desk.wait_until(lambda: imap.count("Refused") == 1, what="the big mail in Refused")
    desk.wait_until(lambda: imap.count("Processed") == 2, what="the small ones in Processed")
    desk.wait_until(lambda: ticket_count(desk) == 2, what="two tickets")
    assert imap.count("INBOX") == 0
    assert imap.message_ids("Refused") == [big["Message-ID"]]
    assert "over max_message_bytes (20000); moved to 'Refused'" in log_of(desk)
    assert desk.json("imap", "status")[0]["refused"] == 1
    counted = samples(http_get(f"http://127.0.0.1:{metrics_port}/metrics")[1])
    received = "postdesk_mails_received_total"
    assert counted[(received, (("listener", "imap"), ("outcome", "stored")))] == 2
    assert counted[(received, (("listener", "imap"), ("outcome", "too_large")))] == 1


@SQLITE_ONLY
def test_oversize_without_refused_folder_stays_flagged(imap: Dovecot, make_desk: Callable[..., Desk]) -> None:
    big = make_mail(subject="Riesig", body="y" * 60_000)
    imap.append("INBOX", [big, *customer_mails(1, "fine")])
    desk = imap_desk(make_desk, mailbox(imap, max_message_bytes=20_000, refused_folder=""))
    desk.start()
    desk.wait_until(lambda: ticket_count(desk) == 1 and imap.count("Processed") == 1, what="the small one")
    desk.wait_until(lambda: imap.count("INBOX", "FLAGGED") == 1, what="the big one flagged")
    # A restart finishes nothing wrongly: the big mail is not taken for a stored one.
    desk.stop()
    desk.start()
    desk.wait_until(lambda: sessions_in(desk) == 2, what="connected again")
    imap.append("INBOX", customer_mails(1, "later"))
    desk.wait_until(lambda: ticket_count(desk) == 2, what="the later mail")
    assert imap.count("INBOX") == 1 and imap.count("Processed") == 2


# -- \Seen only, UIDVALIDITY ----------------------------------------------


def test_seen_mode_and_a_uidvalidity_change_double_nothing(
    imap: Dovecot, make_desk: Callable[..., Desk]
) -> None:
    first = customer_mails(3, "seen")
    imap.append("Support", first)
    box = mailbox(imap, folder="Support", processed_folder="", refused_folder="")
    desk = imap_desk(make_desk, box)
    desk.start()
    desk.wait_until(lambda: imap.count("Support", "SEEN") == 3, what="mail flagged \\Seen")
    desk.wait_until(lambda: ticket_count(desk) == 3, what="three tickets")
    before = desk.json("imap", "status")[0]["uidvalidity"]
    desk.stop()

    # The folder is made anew (new UIDVALIDITY) and holds the same mail, unread again, and one more.
    with imap.client() as client:
        client.delete_folder("Support")
    imap.append("Support", [*first, *customer_mails(1, "new")])
    desk.start()
    desk.wait_until(lambda: imap.count("Support", "UNSEEN") == 0, what="all flagged again")
    desk.wait_until(lambda: len(inbound_ids(desk)) == 7 and all_processed(desk), what="read again")
    assert ticket_count(desk) == 4
    assert len(received_message_ids(desk)) == 4
    assert "UIDVALIDITY changed from" in log_of(desk)
    assert desk.json("imap", "status")[0]["uidvalidity"] != before


# -- config ---------------------------------------------------------------


@SQLITE_ONLY
def test_clear_text_to_a_remote_host_is_a_config_error(
    make_desk: Callable[..., Desk], tmp_path: Path
) -> None:
    desk = with_mailboxes(
        make_desk(),
        {"name": "remote", "host": "imap.example.com", "security": "none", "password": "hunter2-secret"},
    )
    result = desk.run("imap", "status", check=False)
    assert result.returncode == 1
    error = result.stderr.decode()
    assert "security 'none' would send the password in clear text to imap.example.com" in error
    assert "hunter2-secret" not in error
    doubled = with_mailboxes(
        make_desk(name="doubled"),
        {"name": "a", "host": "127.0.0.1", "password": "hunter2-secret"},
        {"name": "a", "host": "127.0.0.1", "password": "hunter2-secret"},
    )
    result = doubled.run("imap", "status", check=False)
    assert "mailbox names must be unique; repeated: a" in result.stderr.decode()
    assert "hunter2-secret" not in result.stderr.decode()
    circular = with_mailboxes(
        make_desk(name="circular"), {"name": "a", "host": "127.0.0.1", "processed_folder": "INBOX"}
    )
    result = circular.run("imap", "status", check=False)
    assert "processed_folder: must be another folder than folder = 'INBOX'" in result.stderr.decode()


def test_mail_stored_but_not_yet_moved_is_moved_not_stored_again(
    imap: Dovecot, make_desk: Callable[..., Desk]
) -> None:
    """The window a crash can hit: the spool commit (with the last UID) is done,
    the MOVE is not. Recreated here exactly as the reader writes it."""
    from postdesk.receive.imap.state import Advance, apply
    from postdesk.receive.spool import Received, spool_messages

    mails = customer_mails(4, "window")
    imap.append("INBOX", mails)
    uids = imap.uids("INBOX")
    with imap.client() as client:
        uidvalidity = client.select_folder("INBOX", readonly=True)[b"UIDVALIDITY"]
    desk = imap_desk(make_desk, mailbox(imap))
    desk.run("db", "upgrade")
    stored = [Received(m.as_bytes(), "imap:support", None, ()) for m in mails[:3]]
    source = f"support@127.0.0.1:{imap.port}/INBOX"
    advance = Advance("support", source, uidvalidity, uids[2], imported=3, fresh=True)
    spool_messages(desk.store, stored, also=apply(advance, datetime.now(UTC)))

    desk.start()
    desk.wait_until(lambda: imap.count("Processed") == 4, what="all four in Processed")
    desk.wait_until(lambda: ticket_count(desk) == 4 and all_processed(desk), what="four tickets")
    assert len(inbound_ids(desk)) == 4, "the three stored ones are not stored again"
    assert "3 message(s) were stored but not yet moved to 'Processed' (interrupted)" in log_of(desk)
    assert imap.count("INBOX") == 0


def test_the_envelope_comes_from_the_delivering_servers_headers() -> None:
    from postdesk.receive.imap.mailbox import _received

    raw = (
        b"Return-Path: <kim@customer.example>\r\n"
        b"Delivered-To: support+10001-abc@example.com\r\n"
        b"X-Original-To: Support@Example.com,\r\n other@example.com\r\n"
        b"Subject: Re: [Ticket#10001]\r\n\r\n"
        b"Delivered-To: not-a-header@body.example\r\n"
    )
    received = _received(raw, "imap:support")
    assert received.envelope_from == "kim@customer.example"
    assert received.recipients == (
        "support+10001-abc@example.com",
        "support@example.com",
        "other@example.com",
    )
    assert received.raw == raw and received.via == "imap:support"
    bounce = _received(b"Return-Path: <>\nSubject: failure\n\nbody\n", "imap:support")
    assert bounce.envelope_from == "" and bounce.recipients == ()


def test_the_watchdog_drops_a_silent_connection_and_the_mailbox_reconnects(
    imap: Dovecot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """In-process: serve's supervision loop calls `watch`; here with a watchdog
    of zero seconds, so the next look finds the mailbox 'silent'."""
    from postdesk.config.model import ImapMailboxSettings
    from postdesk.receive.imap.runner import start_mailboxes
    from postdesk.store.migrate import upgrade
    from postdesk.store.session import open_store

    store = open_store(f"sqlite:///{tmp_path / 'watch.db'}")
    upgrade(store)
    caplog.set_level("INFO", logger="postdesk")
    mailboxes = start_mailboxes([ImapMailboxSettings(**mailbox(imap))], store, on_stored=lambda: None)
    try:
        deadline = time.monotonic() + 30
        while "IDLE" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "connected to" in caplog.text
        mailboxes.watchdog_seconds = 0.0
        time.sleep(0.2)
        mailboxes.watch()
        mailboxes.watchdog_seconds = 600.0
        assert "no sign of life for" in caplog.text
        imap.append("INBOX", customer_mails(1, "watchdog"))
        while imap.count("Processed") < 1 and time.monotonic() < deadline + 30:
            time.sleep(0.1)
        assert imap.count("Processed") == 1
        assert "connected again after 1 failed attempt(s)" in caplog.text
    finally:
        mailboxes.stop()
        store.dispose()
