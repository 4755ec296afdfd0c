"""Operations against a real `postdesk serve`: metrics and /healthz scraped over
HTTP, structured logs, the inbound/outbox views and retries, SIGTERM."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import smtplib
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from conftest import Desk, free_port, make_mail
from ops_support import unwritable
from pg_support import admin_url
from postdesk.ops.exporter import PROBE_KEY, cached, prometheus_metrics
from postdesk.ops.metrics import QueueMetrics, forward
from postdesk.store.models import Inbound, Message, Meta
from test_delivery import start_sink
from test_desk_e2e import wait_for_outbox, wait_processed


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, keyed by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def metric_desk(
    make_desk: Callable[..., Desk], cache_seconds: float = 0.0, **settings: object
) -> tuple[Desk, str]:
    port = free_port()
    metrics = {"listen": f"127.0.0.1:{port}", "health_cache_seconds": cache_seconds}
    desk = make_desk({"metrics": metrics, **settings})
    desk.start()
    base = f"http://127.0.0.1:{port}"
    desk.wait_until(lambda: _reachable(base + "/healthz"), what="the metrics endpoint")
    return desk, base


def _reachable(url: str) -> bool:
    try:
        return http_get(url)[0] == 200
    except OSError:
        return False


def test_metrics_count_mail_stages_suppressions_and_queue_depths(make_desk: Callable[..., Desk]) -> None:
    desk, base = metric_desk(
        make_desk,
        ingest={"smtp": {"max_message_bytes": 4000}},
        outbound={"transport": f"smtp://127.0.0.1:{free_port()}", "retry_base_seconds": 3600},
    )
    desk.send(make_mail(subject="Erste Anfrage"))
    desk.send(make_mail(sender="noreply@shop.example", subject="Bestellung"), sender="noreply@shop.example")
    try:
        desk.send(make_mail(body="x" * 6000))
    except smtplib.SMTPSenderRefused as error:  # refused at MAIL FROM … SIZE=
        assert error.smtp_code == 552
    wait_processed(desk, 2)
    # The acknowledgement's relay is down: it waits in the outbox after one attempt.
    desk.wait_until(lambda: any(r["attempts"] for r in desk.json("outbox", "list")), what="a deferred mail")

    status, text = http_get(base + "/metrics")
    assert status == 200
    found = samples(text)
    assert found[("postdesk_mails_received_total", (("listener", "smtp"), ("outcome", "stored")))] == 2
    assert found[("postdesk_mails_received_total", (("listener", "smtp"), ("outcome", "too_large")))] == 1
    assert found[("postdesk_messages_processed_total", (("outcome", "done"),))] == 2
    for stage in ("parse", "classify", "thread", "store"):
        assert found[("postdesk_stage_seconds_count", (("stage", stage),))] == 2
    assert found[("postdesk_stage_seconds_count", (("stage", "respond"),))] == 2
    assert found[("postdesk_acknowledgements_suppressed_total", (("reason", "sender"),))] == 1
    assert found[("postdesk_store_up", ())] == 1
    assert found[("postdesk_inbound_messages", (("status", "pending"),))] == 0
    assert found[("postdesk_inbound_messages", (("status", "failed"),))] == 0
    assert found[("postdesk_inbound_oldest_pending_seconds", ())] == 0
    assert found[("postdesk_outbox_mails", (("status", "pending"),))] == 1
    assert found[("postdesk_outbox_mails", (("status", "failed"),))] == 0
    assert found[("postdesk_outbox_deliveries_total", (("outcome", "deferred"),))] == 1
    assert "# TYPE postdesk_dedupe_decisions_total counter" in text


def test_healthz_fails_while_the_store_is_unreadable(make_desk: Callable[..., Desk]) -> None:
    desk, base = metric_desk(make_desk)
    assert http_get(base + "/healthz") == (200, "ok\n")
    url = make_url(desk.settings["store"]["url"])
    if url.get_backend_name() == "sqlite":
        database = Path(str(url.database))
        away = database.with_suffix(".away")
        os.rename(database, away)
        try:
            database.mkdir()  # where the database was, something SQLite cannot open
            status, body = http_get(base + "/healthz")
            assert status == 503 and body.startswith("store cannot take mail: OperationalError"), body
            database.rmdir()
            status, body = http_get(base + "/healthz")
            assert status == 503 and "missing" in body
        finally:
            os.replace(away, database)
    else:
        # The server refuses new connections to the desk's database; the
        # desk's pooled connections go on working, the probe's new one does not.
        admin_dsn = admin_url().set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS false')
            try:
                status, body = http_get(base + "/healthz")
                assert status == 503 and "is not currently accepting connections" in body, body
            finally:
                admin.execute(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS true')
    assert http_get(base + "/healthz") == (200, "ok\n")


def test_healthz_fails_while_the_database_cannot_be_written(make_desk: Callable[..., Desk]) -> None:
    # The probe is cached for 3 s: a second probe right after the first is answered from it.
    desk, base = metric_desk(make_desk, cache_seconds=3.0)
    assert http_get(base + "/healthz") == (200, "ok\n")
    with read_only_store(desk) as why:
        assert http_get(base + "/healthz") == (200, "ok\n"), "answered from the cached check"
        status, body = desk.wait_until(
            lambda: (answer := http_get(base + "/healthz"))[0] == 503 and answer, what="/healthz to fail"
        )
        assert body.startswith("store cannot take mail: ") and why in body, body
    desk.wait_until(lambda: http_get(base + "/healthz") == (200, "ok\n"), what="/healthz to recover")
    with desk.store.read() as session:  # the probe's writes were rolled back
        assert session.execute(select(Meta).where(Meta.key == PROBE_KEY)).first() is None


@contextmanager
def read_only_store(desk: Desk) -> Iterator[str]:
    """DESK's database readable but not writable, for new connections; yields what /healthz should say."""
    url = make_url(desk.settings["store"]["url"])
    if url.get_backend_name() == "sqlite":
        database = Path(str(url.database))
        with unwritable(database):
            yield f"database file {database} is not writable (mode, read-only file system or immutable)"
        return
    admin_dsn = admin_url().set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{url.database}" SET default_transaction_read_only = on')
        try:
            yield "cannot execute INSERT in a read-only transaction"
        finally:
            admin.execute(f'ALTER DATABASE "{url.database}" RESET default_transaction_read_only')


def test_health_check_is_asked_once_per_interval() -> None:
    now, asked = [100.0], []

    def check() -> str | None:
        asked.append(now[0])
        return None if len(asked) != 2 else "broken"

    probe = cached(check, 5.0, clock=lambda: now[0])
    assert [probe(), probe(), probe()] == [None, None, None] and asked == [100.0]
    now[0] = 105.0
    assert probe() == "broken" and probe() == "broken" and asked == [100.0, 105.0]
    now[0] = 110.5
    assert probe() is None and len(asked) == 3


def test_child_reports_reach_the_parents_counters() -> None:
    """The dedupe helper's counter, fed the way a pipeline child feeds it: over a spawn queue."""
    from postdesk.store.session import open_store

    store = open_store("sqlite:///:memory:")
    recorder = prometheus_metrics(store)
    events = multiprocessing.get_context("spawn").Queue()
    child = QueueMetrics(events)
    child.dedupe_decision("same-message-id", "merged")
    child.dedupe_decision("same-message-id", "merged")
    child.dedupe_decision("resent-within-hour", "kept")
    child.ack_suppressed("rate_limit")
    events.put(None)
    forward(events, recorder)
    value = recorder.registry.get_sample_value
    assert value("postdesk_dedupe_decisions_total", {"rule": "same-message-id", "action": "merged"}) == 2
    assert value("postdesk_dedupe_decisions_total", {"rule": "resent-within-hour", "action": "kept"}) == 1
    assert value("postdesk_acknowledgements_suppressed_total", {"reason": "rate_limit"}) == 1
    store.dispose()


def test_json_logs_have_one_line_per_message_without_secrets_or_bodies(
    make_desk: Callable[..., Desk],
) -> None:
    desk = make_desk(
        {
            "log": {"format": "json"},
            "outbound": {"password": "pw-DO-NOT-LOG-4711"},
        }
    )
    desk.start()
    desk.send(make_mail(subject="Login kaputt", body="Geheimer Text BODY-MARKER-8472\n"))
    desk.send(
        make_mail(sender="noreply@shop.example", subject="Ihre Bestellung"), sender="noreply@shop.example"
    )
    wait_processed(desk, 2)
    wait_for_outbox(desk, 1)
    desk.stop()

    log = desk.log.read_text()
    assert "BODY-MARKER-8472" not in log and "pw-DO-NOT-LOG-4711" not in log
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert entries and len(entries) == len([line for line in log.splitlines() if line.strip()])
    processed = [e for e in entries if e["logger"] == "postdesk.pipeline" and "inbound_id" in e]
    assert len(processed) == 2
    first, second = sorted(processed, key=lambda e: e["inbound_id"])
    assert first["level"] == "info" and first["ticket_id"] == 10001 and first["new_ticket"] is True
    assert first["kind"] == "customer" and "acknowledgement queued" in first["decision"]
    assert second["ticket_id"] == 10002 and "no acknowledgement" in second["decision"]
    assert "no-reply address" in second["decision"]


def test_text_log_line_names_ticket_and_decision(desk: Desk) -> None:
    desk.send(make_mail())
    wait_processed(desk, 1)
    desk.stop()
    [line] = [line for line in desk.log.read_text().splitlines() if "postdesk.pipeline" in line]
    assert "inbound 1 via smtp: customer ticket 10001 (new):" in line and "acknowledgement queued" in line


BROKEN_TEMPLATE = "{% block subject %}{{ no_such_variable }}{% endblock %}{% block body %}x{% endblock %}\n"


def test_failed_inbound_is_listed_with_its_error_and_retried(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk()
    override = desk.root / "templates"
    (override / "de").mkdir(parents=True)
    (override / "de" / "acknowledgement.txt").write_text(BROKEN_TEMPLATE)
    desk.settings["templates"] = {"path": str(override)}
    desk.start()
    desk.send(make_mail(subject="Trifft die kaputte Vorlage"))
    wait_processed(desk, 1)

    [row] = desk.json("inbound", "list", "--status", "failed")
    assert row["status"] == "failed" and row["attempts"] == 1 and row["via"] == "smtp"
    assert "no_such_variable" in row["error"] and "raw" not in row
    text = desk.run("inbound", "list").stdout.decode()
    assert "failed" in text and "no_such_variable" in text
    assert desk.json("tickets", "list") == []  # the failed message's writes were rolled back

    refused = desk.run("inbound", "retry", "99", check=False)
    assert (
        refused.returncode == 1
        and refused.stderr.decode().splitlines()[-1] == "postdesk: no inbound message 99"
    )

    (override / "de" / "acknowledgement.txt").unlink()  # the desk's own template again
    assert "inbound 1 queued again" in desk.run("inbound", "retry", str(row["id"])).stdout.decode()
    desk.wait_until(lambda: desk.json("tickets", "list"), what="the retried message as a ticket")
    assert desk.json("inbound", "list") == []
    again = desk.run("inbound", "retry", str(row["id"]), check=False)
    assert again.returncode == 1 and "is done, not failed" in again.stderr.decode()
    assert desk.run("inbound", "retry", "--all").stdout.decode().strip() == "0 message(s) queued again"


def test_process_retry_failed_queues_the_failed_mail_again(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk()
    override = desk.root / "templates"
    (override / "de").mkdir(parents=True)
    (override / "de" / "acknowledgement.txt").write_text(BROKEN_TEMPLATE)
    desk.settings["templates"] = {"path": str(override)}
    desk.start()
    desk.send(make_mail(subject="Kaputte Vorlage, dann process --retry-failed"))
    wait_processed(desk, 1)
    desk.stop()
    assert desk.json("inbound", "list", "--status", "failed")

    (override / "de" / "acknowledgement.txt").unlink()
    done = desk.run("process", "--once", "--retry-failed")
    assert "1 failed message(s) queued again" in done.stderr.decode()
    assert [t["subject"] for t in desk.json("tickets", "list")] == [
        "Kaputte Vorlage, dann process --retry-failed"
    ]
    assert desk.json("inbound", "list") == []


def test_sigterm_mid_burst_loses_no_acknowledged_mail(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk()
    desk.start()
    acknowledged: list[str] = []
    lock = threading.Lock()
    started = threading.Event()

    def sender(index: int, persistent: bool) -> None:
        client = None
        for n in range(40):
            mail = make_mail(sender=f"c{index}@customer.example", subject=f"Burst {index}/{n}")
            try:
                if client is None:
                    client = smtplib.SMTP("127.0.0.1", desk.port, timeout=30)
                client.sendmail(f"c{index}@customer.example", ["support@example.com"], mail.as_bytes())
            except (OSError, smtplib.SMTPException):
                return  # refused or cut off: not acknowledged, a real sender would retry
            with lock:
                acknowledged.append(mail["Message-ID"].strip("<>"))
                if len(acknowledged) >= 30:
                    started.set()
            if not persistent:
                client.quit()
                client = None

    threads = [threading.Thread(target=sender, args=(i, i % 2 == 0)) for i in range(8)]
    for thread in threads:
        thread.start()
    assert started.wait(60)
    assert desk.proc is not None
    desk.proc.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(60)
    assert desk.stop() == 0
    assert "shutting down" in desk.log.read_text()

    desk.start()
    wait_processed(desk, len(acknowledged))
    with desk.store.read() as session:
        stored = set(session.execute(select(Message.message_id)).scalars())
        pending = session.execute(
            select(func.count()).select_from(Inbound).where(Inbound.status != "done")
        ).scalar_one()
    assert len(acknowledged) >= 30
    assert set(acknowledged) <= stored, set(acknowledged) - stored
    assert pending == 0


def test_failed_outbox_mail_is_listed_and_sent_again(make_desk: Callable[..., Desk]) -> None:
    relay_port = free_port()
    controller, sink = start_sink(relay_port, reply="550 5.1.1 mailbox unavailable")
    try:
        desk = make_desk({"outbound": {"transport": f"smtp://127.0.0.1:{relay_port}"}})
        desk.start()
        desk.send(make_mail())
        [row] = desk.wait_until(
            lambda: desk.json("outbox", "list", "--status", "failed"), what="a failed outbox mail"
        )
        assert row["attempts"] == 1 and row["recipients"] == ["kim@customer.example"]
        assert row["kind"] == "acknowledgement" and row["ticket"] == 10001
        assert "550" in row["last_error"] and "raw" not in row
        assert "mailbox unavailable" in desk.run("outbox", "list").stdout.decode()

        sink.reply = "250 OK"  # the recipient's mailbox is back
        assert desk.run("outbox", "retry", "--all").stdout.decode().strip() == "1 mail(s) due now"
        desk.wait_until(lambda: sink.received, what="the retried mail at the relay")
        desk.wait_until(lambda: desk.json("outbox", "list") == [], what="nothing left to send")
        [sent] = desk.json("outbox", "list", "--status", "sent")
        assert sent["id"] == row["id"] and sent["attempts"] == 1 and sent["sent_at"]
        refused = desk.run("outbox", "retry", str(row["id"]), check=False)
        assert refused.returncode == 1 and refused.stderr.decode().splitlines()[-1] == (
            f"postdesk: outbox {row['id']} is sent: nothing to retry"
        )
    finally:
        controller.stop()


def test_sigterm_closes_an_idle_session_after_the_grace_period(desk: Desk) -> None:
    """A client that holds its connection open does not keep serve from stopping."""
    idle = smtplib.SMTP("127.0.0.1", desk.port, timeout=60)
    idle.ehlo()
    assert desk.proc is not None
    desk.proc.send_signal(signal.SIGTERM)
    assert desk.proc.wait(timeout=60) == 0
    assert "closing 1 session(s) still open" in desk.log.read_text()
    try:
        code, _ = idle.noop()
    except (smtplib.SMTPServerDisconnected, OSError):
        code = None
    assert code is None  # the server hung up on it


def test_a_bad_metrics_address_is_one_clear_line(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk({"metrics": {"listen": "9108"}})
    result = desk.run("inbound", "list", check=False)
    assert result.returncode == 1
    assert (
        result.stderr.decode()
        .strip()
        .endswith("postdesk.toml: [metrics] listen: expected host:port such as 127.0.0.1:9108 (got '9108')")
    )
    desk.settings["metrics"] = {}
    desk.write_config()
    result = desk.run("serve", "--metrics", "localhost", check=False)
    assert result.returncode == 1
    assert result.stderr.decode().splitlines()[-1] == (
        "postdesk: --metrics localhost: expected host:port such as 127.0.0.1:9108"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = desk.run("serve", "--metrics", f"127.0.0.1:{port}", check=False)
    assert result.returncode == 1
    assert result.stderr.decode().splitlines()[-1] == (
        f"postdesk: cannot listen for metrics on 127.0.0.1:{port}: [Errno 98] Address already in use"
    )


def test_queue_depths_are_read_from_the_store_at_scrape(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from postdesk.receive.spool import Received, spool_messages
    from postdesk.store.migrate import upgrade
    from postdesk.store.session import open_store

    store = open_store(f"sqlite:///{tmp_path / 'depths.db'}")
    upgrade(store)
    recorder = prometheus_metrics(store)
    value = recorder.registry.get_sample_value
    assert value("postdesk_inbound_messages", {"status": "pending"}) == 0
    assert value("postdesk_inbound_oldest_pending_seconds") == 0
    message = Received(
        raw=b"Subject: x\r\n\r\nx\r\n", via="smtp", envelope_from="a@b.example", recipients=("s@d.example",)
    )
    spool_messages(store, [message, message], now=datetime.now(UTC) - timedelta(minutes=10))
    assert value("postdesk_inbound_messages", {"status": "pending"}) == 2
    assert 600 <= value("postdesk_inbound_oldest_pending_seconds") < 3600
    store.dispose()


def test_dedupe_decisions_are_counted_by_rule_and_action(make_desk: Callable[..., Desk]) -> None:
    from test_dedupe_e2e import KIM, REQUEST

    desk, base = metric_desk(make_desk)
    desk.send(make_mail(sender=KIM, subject="Passwort vergessen", body=REQUEST))
    wait_processed(desk, 1)
    desk.send(make_mail(sender=KIM, subject="DRINGEND: Passwort vergessen", body=REQUEST))
    wait_processed(desk, 2)
    found = samples(http_get(base + "/metrics")[1])
    assert found[("postdesk_dedupe_decisions_total", (("action", "new"), ("rule", "none")))] == 1
    assert (
        found[("postdesk_dedupe_decisions_total", (("action", "merge"), ("rule", "same-sender-repeat")))] == 1
    )
    assert found[("postdesk_stage_seconds_count", (("stage", "dedupe"),))] == 2
