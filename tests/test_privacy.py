"""A customer's data: `contacts export` gives them everything the desk holds, `contacts erase`
leaves no trace of them in the database file, `retention run` deletes what is older than configured.
End to end: mail over SMTP into a real `postdesk serve`, then the commands on its database."""

from __future__ import annotations

import getpass
import json
import urllib.request
import zipfile
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import text, update

from agents_support import ANNA, KIM, mail_to, messages, processed, reply_to, start_agent_desk, ticket
from conftest import Desk, free_port, make_mail
from postdesk.store.models import Inbound, InboundRaw, Ticket
from voicemail_support import asterisk_mail, wav_bytes

PHRASE = "Quittengelee-Vorfall-7731"  # in Kim's mail only: the byte search looks for it
PDF = b"%PDF-1.4 Kims Vertrag " + PHRASE.encode() + b" Ende"
COLLEAGUE = "lea@customer.example"
PBX = "asterisk@pbx.example.com"


def kims_mail() -> EmailMessage:
    mail = make_mail(
        sender=f"Kim Kunde <{KIM}>", subject="Vertrag", body=f"Mein Vertrag: {PHRASE}. Bitte prüfen.\n"
    )
    mail.add_attachment(PDF, maintype="application", subtype="pdf", filename="vertrag.pdf")
    return mail


def customer_reply(desk: Desk, sender: str, body: str) -> EmailMessage:
    """SENDER answers Kim's acknowledgement (the colleague on Cc answers it to all)."""
    [acknowledgement] = mail_to(desk, KIM)[:1]
    reply = make_mail(sender=sender, subject="Re: " + str(acknowledgement["Subject"]), body=body)
    reply["In-Reply-To"] = acknowledgement["Message-ID"]
    reply["References"] = acknowledgement["Message-ID"]
    return reply


@pytest.fixture
def kim_desk(make_desk) -> tuple[Desk, list[bytes]]:
    """A desk where Kim wrote with a file and answered her acknowledgement: the raw mails as sent."""
    desk = start_agent_desk(make_desk())
    first = kims_mail()
    desk.send(first, sender=KIM)
    processed(desk, 1)
    second = customer_reply(desk, f"Kim Kunde <{KIM}>", f"Noch etwas zu {PHRASE}: die Seite 2.\n")
    desk.send(second, sender=KIM, recipients=(str(mail_to(desk, KIM)[0]["Reply-To"]),))
    processed(desk, 2)
    return desk, [on_the_wire(first), on_the_wire(second)]


def on_the_wire(mail: EmailMessage) -> bytes:
    """MAIL's bytes as smtplib sends them: it ends the data with CRLF when the mail does not."""
    raw = mail.as_bytes()
    return raw if raw.endswith(b"\r\n") else raw + b"\r\n"


def test_export_holds_the_contact_tickets_messages_files_and_raw_mails(kim_desk, tmp_path: Path) -> None:
    desk, sent = kim_desk
    out = tmp_path / "kim.json"
    desk.run("contacts", "export", KIM, "--out", str(out))
    document = json.loads(out.read_text())
    assert document["contact"]["email"] == KIM and document["contact"]["name"] == "Kim Kunde"
    assert [t["number"] for t in document["tickets"]] == ["10001"]
    triage = document["tickets"][0]["triage"]
    assert triage and all(e["step"] and e["at"] for e in triage), "why the ticket got its queue and priority"
    received = [m for m in document["messages"] if m["direction"] == "in"]
    assert [m["from"] for m in received] == [KIM, KIM]
    assert PHRASE in received[0]["text"] and PHRASE in received[1]["text"]
    assert [(a["filename"], a["size"]) for a in received[0]["attachments"]] == [("vertrag.pdf", len(PDF))]
    assert {o["kind"] for o in document["outbound"]} >= {"acknowledgement"}
    assert set(document) >= {"phones", "feature_requests", "voicemails", "caller_hints"}
    with zipfile.ZipFile(out.with_suffix(".zip")) as zipped:
        assert [zipped.read(m["raw_file"]) for m in received] == sent
        assert zipped.read(received[0]["attachments"][0]["file"]) == PDF
        assert all(zipped.read(o["raw_file"]) for o in document["outbound"])


def test_export_of_an_unknown_address_says_so(kim_desk, tmp_path: Path) -> None:
    desk, _ = kim_desk
    result = desk.run("contacts", "export", "nobody@nowhere.example", check=False)
    assert result.returncode == 1 and "holds nothing about nobody@nowhere.example" in result.stderr.decode()


def traces(desk: Desk, *needles: str) -> list[str]:
    """NEEDLES still in the database: its file's bytes (and -wal) on SQLite, every row on PostgreSQL."""
    url = desk.settings["store"]["url"]
    found = []
    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1])
        data = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        return [n for n in needles if n.encode() in data or n.encode("utf-16-le") in data]
    with desk.store.read() as session:
        tables = session.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ).scalars()
        rows = [
            row
            for table in list(tables)
            for row in session.execute(text(f'SELECT CAST(t AS text) FROM "{table}" t')).scalars()
        ]
    for needle in needles:
        as_hex = needle.encode().hex()
        if any(needle.lower() in row.lower() or as_hex in row for row in rows):
            found.append(needle)
    return found


def counts(desk: Desk) -> dict[str, int]:
    with desk.store.read() as session:
        return {
            table: session.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in ("messages", "tickets", "attachments", "blobs", "inbound_raw", "outbox", "contacts")
        }


def test_erase_leaves_no_trace_and_a_dry_run_changes_nothing(kim_desk) -> None:
    desk, _ = kim_desk
    before = counts(desk)
    dry = desk.json("contacts", "erase", KIM, "--dry-run")
    assert dry["dry_run"] is True and counts(desk) == before
    assert traces(desk, KIM, PHRASE) == [KIM, PHRASE]
    assert dry["counts"]["messages"] >= 2 and dry["counts"]["tickets"] == 1
    assert dry["counts"]["attachments"] == 1 and dry["counts"]["blobs"] == 1
    assert dry["counts"]["raw_mails"] == 2 and dry["counts"]["contacts"] == 1

    real = desk.json("contacts", "erase", KIM)
    assert real["counts"] == dry["counts"]
    assert traces(desk, KIM, PHRASE) == []
    after = counts(desk)
    assert after["tickets"] == before["tickets"] - 1 and after["blobs"] == 0 and after["inbound_raw"] == 0
    with desk.store.read() as session:
        [(action, ran_by, line)] = session.execute(
            text("SELECT action, ran_by, counts FROM privacy_audit")
        ).all()
    assert action == "erase" and ran_by == getpass.getuser()
    assert KIM not in str(line) and (json.loads(line) if isinstance(line, str) else line) == real["counts"]
    again = desk.json("contacts", "erase", KIM)
    assert again["counts"] == dict.fromkeys(real["counts"], 0)
    # The desk's own log at info level (serve took and answered Kim's mail) never named her either.
    assert KIM not in desk.log.read_text() and PHRASE not in desk.log.read_text()


def test_erase_keeps_a_colleagues_mail_on_a_shared_ticket(make_desk) -> None:
    desk = start_agent_desk(make_desk())
    first = kims_mail()
    first["Cc"] = f"Lea Kollegin <{COLLEAGUE}>"
    desk.send(first, sender=KIM, recipients=("support@example.com",))
    processed(desk, 1)
    reply = customer_reply(desk, f"Lea Kollegin <{COLLEAGUE}>", "Ich habe dieselbe Frage zur Abrechnung.\n")
    desk.send(reply, sender=COLLEAGUE, recipients=(str(mail_to(desk, KIM)[0]["Reply-To"]),))
    processed(desk, 2)
    shown = desk.json("tickets", "show", "10001")
    assert {m["from"] for m in shown["messages"] if m["direction"] == "in"} == {KIM, COLLEAGUE}

    erased = desk.json("contacts", "erase", KIM)["counts"]
    assert erased["tickets"] == 0 and erased["contacts"] == 1
    assert traces(desk, KIM, PHRASE) == []
    shown = desk.json("tickets", "show", "10001")
    received = [m for m in shown["messages"] if m["direction"] == "in"]
    assert [(m["from"], m["text"]) for m in received] == [
        (COLLEAGUE, "Ich habe dieselbe Frage zur Abrechnung.")
    ]
    assert ticket(desk, 10001).contact.email == COLLEAGUE, "the ticket is the colleague's now"


OTTO = "otto@other.example"


def set_back(desk: Desk, days: int) -> None:
    """Close ticket 10001 and date it, and every received mail, DAYS back."""
    then = datetime.now(UTC) - timedelta(days=days)
    with desk.store.transaction() as session:
        session.execute(update(Ticket).where(Ticket.id == 10001).values(status="closed", closed_at=then))
        session.execute(update(Inbound).values(received_at=then))
        failed = Inbound(
            received_at=then, via="smtp", envelope_from=OTTO, recipients=["support@example.com"], size=9
        )
        failed.status, failed.attempts, failed.error = "failed", 3, "a stage failed"
        session.add(failed)
        session.flush()
        session.add(InboundRaw(inbound_id=failed.id, raw=b"broken\r\n"))


def with_retention(desk: Desk, **days: int) -> None:
    desk.settings["retention"] = days
    desk.write_config()


def test_retention_dry_run_counts_and_the_real_run_deletes_what_is_older(kim_desk) -> None:
    desk, _ = kim_desk
    desk.send(make_mail(sender=f"Otto <{OTTO}>", subject="Frage", body="Eine neue Frage.\n"), sender=OTTO)
    processed(desk, 3)
    set_back(desk, 40)
    with desk.store.transaction() as session:  # Otto's mail is recent: only its raw bytes are old
        session.execute(
            update(Inbound)
            .where(Inbound.envelope_from == OTTO, Inbound.status == "done")
            .values(received_at=datetime.now(UTC) - timedelta(days=10))
        )
    with_retention(desk, closed_tickets_days=30, spool_days=30, raw_mail_days=7)
    before = counts(desk)
    dry = desk.json("retention", "run", "--dry-run")
    assert counts(desk) == before
    assert dry["counts"]["tickets"] == 1 and dry["counts"]["spooled"] == 3  # Kim's two, the failed one
    assert dry["counts"]["raw_mails"] == 4 and dry["counts"]["blobs"] == 1

    real = desk.json("retention", "run")
    assert real["counts"] == dry["counts"]
    after = counts(desk)
    assert after["tickets"] == 1 and after["inbound_raw"] == 0 and after["blobs"] == 0
    shown = desk.json("tickets", "show", "10002")
    assert [m["text"] for m in shown["messages"] if m["direction"] == "in"] == ["Eine neue Frage."]
    assert desk.json("retention", "run")["counts"] == dict.fromkeys(real["counts"], 0)
    with desk.store.read() as session:
        actions = session.execute(text("SELECT action, ran_by FROM privacy_audit")).all()
    assert [tuple(a) for a in actions] == [("retention", getpass.getuser())]


def test_serve_runs_retention_daily_and_logs_the_counts(kim_desk) -> None:
    desk, _ = kim_desk
    set_back(desk, 40)
    desk.stop()
    port = free_port()
    desk.settings["metrics"] = {"listen": f"127.0.0.1:{port}"}
    with_retention(desk, closed_tickets_days=30)
    desk.start()
    desk.wait_until(lambda: counts(desk)["tickets"] == 0, what="the daily retention run")
    desk.wait_until(lambda: "retention: deleted" in desk.log.read_text(), what="the retention log line")

    def scraped() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return str(response.read().decode())

    desk.wait_until(
        lambda: 'postdesk_retention_deleted_total{kind="tickets"} 1.0' in scraped(), what="the metric"
    )
    with desk.store.read() as session:
        [(action, ran_by)] = session.execute(text("SELECT action, ran_by FROM privacy_audit")).all()
    assert (action, ran_by) == ("retention", "serve")


def test_retention_keeps_everything_by_default_and_refuses_bad_values(kim_desk) -> None:
    desk, _ = kim_desk
    result = desk.run("retention", "run", check=False)
    assert result.returncode == 1 and "keeps everything" in result.stderr.decode()
    with_retention(desk, spool_days=-1)
    result = desk.run("retention", "run", check=False)
    assert result.returncode == 1 and "spool_days" in result.stderr.decode()
    assert len(result.stderr.decode().strip().splitlines()) == 1


def test_export_and_erase_take_a_callers_number_and_voicemail_along(kim_desk, tmp_path: Path) -> None:
    desk, _ = kim_desk
    desk.run("contacts", "set-phone", KIM, "0301234567")
    desk.send(asterisk_mail(number="0301234567", name="Kim Kunde", audio=wav_bytes(3)), sender=PBX)
    processed(desk, 3)
    out = tmp_path / "kim.json"
    desk.run("contacts", "export", KIM, "--out", str(out))
    document = json.loads(out.read_text())
    assert [p["number"] for p in document["phones"]] == ["+49301234567"]
    assert [(v["caller_number"], v["duration_seconds"]) for v in document["voicemails"]] == [
        ("+49301234567", 3.0)
    ]

    erased = desk.json("contacts", "erase", KIM)["counts"]
    # The call went onto her open ticket or a callback ticket of its own: every one of hers goes.
    assert (erased["phones"], erased["voicemails"], erased["tickets"]) == (1, 1, len(document["tickets"]))
    assert traces(desk, KIM, PHRASE, "+49301234567") == []


def test_erase_keeps_the_other_customers_mail_on_a_ticket_theirs_was_merged_into(make_desk) -> None:
    desk = start_agent_desk(make_desk())
    desk.send(
        make_mail(sender=f"Otto <{OTTO}>", subject="Gesperrt", body="Mein Konto ist gesperrt.\n"), sender=OTTO
    )
    processed(desk, 1)
    desk.send(kims_mail(), sender=KIM)
    notification = desk.wait_until(
        lambda: [m for m in mail_to(desk, ANNA) if "10002" in m["Subject"]], what="notification for 10002"
    )[0]
    desk.send(reply_to(notification, "#merge 10001"), sender=ANNA, recipients=(notification["Reply-To"],))
    processed(desk, 3)
    assert {m["from"] for m in messages(desk, 10001) if m["kind"] == "customer"} == {OTTO, KIM}

    erased = desk.json("contacts", "erase", KIM)["counts"]
    assert erased["tickets"] == 1, "the empty merged ticket 10002 goes, 10001 stays"
    assert traces(desk, KIM, PHRASE) == []
    assert [(m["from"], m["text"]) for m in messages(desk, 10001) if m["kind"] == "customer"] == [
        (OTTO, "Mein Konto ist gesperrt.")
    ]
    assert ticket(desk, 10001).contact.email == OTTO
