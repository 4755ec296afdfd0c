"""Limits that hold under a flood (issue 16.4), end to end through a real `postdesk serve` over SMTP:
automatic mail to customers per sender mailbox, per domain and global; held mail released by
`outbox release`; agent notifications folded into a digest; one how-to per agent and hour."""

from __future__ import annotations

import smtplib
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from agents_support import ANNA, KIM, mail_to, start_agent_desk
from conftest import Desk, free_port, make_mail
from postdesk.config import ConfigError, load_settings
from postdesk.runtime.desk import open_desk
from postdesk.store.models import Inbound, Outbox, Ticket
from test_operations import http_get, samples

NO_DEDUPE = {"dedupe": {"enabled": False}}


def send_many(desk: Desk, mails: Sequence[tuple[str, EmailMessage]], connections: int = 4) -> None:
    """Send (envelope sender, mail) pairs over CONNECTIONS SMTP sessions at once, as a flood does."""
    errors: list[BaseException] = []

    def one_session(part: Sequence[tuple[str, EmailMessage]]) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", desk.port, timeout=60) as client:
                for sender, mail in part:
                    client.sendmail(sender, ["support@example.com"], mail.as_bytes())
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(error)

    shares = [mails[n::connections] for n in range(connections)]
    threads = [threading.Thread(target=one_session, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def customer(address: str, n: int) -> tuple[str, EmailMessage]:
    # Each mail is its own concern: different words, so nothing could merge them.
    mail = make_mail(
        sender=f"Kunde {n} <{address}>",
        subject=f"Anfrage {n}: Rechnung {n * 7919}",
        body=f"Bitte prüfen Sie Vorgang {n * 104729}.\n",
    )
    return address, mail


def settled(desk: Desk, count: int) -> None:
    """Wait until COUNT mails are processed and nothing waits to be sent (held mail does not wait)."""

    def done() -> bool:
        with desk.store.read() as session:
            finished = session.scalar(
                select(func.count()).select_from(Inbound).where(Inbound.status != "pending")
            )
            waiting = session.scalar(
                select(func.count()).select_from(Outbox).where(Outbox.status.in_(["pending", "sending"]))
            )
        return finished is not None and finished >= count and waiting == 0

    desk.wait_until(done, timeout=300, what=f"{count} processed mails and an empty outbox queue")


def held(desk: Desk) -> dict[str, int]:
    with desk.store.read() as session:
        rows = session.execute(
            select(Outbox.held_by, func.count()).where(Outbox.status == "held").group_by(Outbox.held_by)
        ).all()
    return {limit: count for limit, count in rows}


def count_tickets(desk: Desk) -> int:
    with desk.store.read() as session:
        return session.scalar(select(func.count()).select_from(Ticket)) or 0


def log_lines(desk: Desk, text: str) -> int:
    return sum(text in line for line in desk.log.read_text().splitlines())


def test_mailbox_folds_plus_tag_and_case() -> None:
    from postdesk.core.mail import domain_of, mailbox_of  # here: the other tests also run on older code

    assert mailbox_of("Bob+1@Example.COM") == "bob@example.com"
    assert mailbox_of("bob+a+b@x.example") == "bob@x.example"
    assert mailbox_of("BOB@x.example") == "bob@x.example"
    assert mailbox_of("+only@x.example") == "+only@x.example"
    assert domain_of("Bob+1@Example.COM") == "example.com" and domain_of("nobody") == ""


def test_a_flood_from_500_senders_gets_the_global_limit_of_acknowledgements_and_500_tickets(
    make_desk: Callable[..., Desk],
) -> None:
    metrics_port = free_port()
    desk = make_desk(
        {
            "replies": {"max_acks_per_hour": 20},
            "metrics": {"listen": f"127.0.0.1:{metrics_port}"},
            **NO_DEDUPE,
        }
    )
    desk.start()
    send_many(desk, [customer(f"sender{n}@flood{n}.example", n) for n in range(500)])
    settled(desk, 500)
    assert count_tickets(desk) == 500
    assert len(desk.outbox_files()) == 20
    assert held(desk) == {"global": 480}
    listed = desk.json("outbox", "list")
    assert len(listed) == 480 and {(r["status"], r["held_by"], r["kind"]) for r in listed} == {
        ("held", "global", "acknowledgement")
    }
    text = desk.run("outbox", "list").stdout.decode()
    assert "held by limit global" in text
    found = samples(http_get(f"http://127.0.0.1:{metrics_port}/metrics")[1])
    assert found[("postdesk_automatic_mail_held_total", (("limit", "global"),))] == 480
    assert found[("postdesk_outbox_mails", (("status", "held"),))] == 480
    # One line for the limit in this hour, not one per held mail.
    assert log_lines(desk, "automatic mail held: limit global") == 1


def test_plus_address_and_case_variants_share_one_limit_and_held_mail_is_released(
    make_desk: Callable[..., Desk],
) -> None:
    desk = make_desk(NO_DEDUPE)  # the defaults: 5 per mailbox
    desk.start()
    variants = ["bob+1@shop.example", "bob+2@shop.example", "BOB@shop.example", "Bob+x@SHOP.example"]
    send_many(desk, [customer(variants[n % 4], n) for n in range(8)], connections=1)
    settled(desk, 8)
    assert count_tickets(desk) == 8
    assert len(desk.outbox_files()) == 5
    assert held(desk) == {"per_mailbox": 3}
    assert log_lines(desk, "automatic mail held: limit per_mailbox") == 1

    [first, *rest] = [row["id"] for row in desk.json("outbox", "list", "--status", "held")]
    released = desk.run("outbox", "release", str(first)).stdout.decode().strip()
    assert released == "1 held mail(s) released, due now"
    desk.wait_until(lambda: len(desk.outbox_files()) == 6, what="the released mail sent")
    again = desk.run("outbox", "release", str(first), check=False)
    assert again.returncode != 0 and b"not held" in again.stderr
    assert desk.run("outbox", "release", "--all").stdout.decode().startswith(f"{len(rest)} held mail(s)")
    desk.wait_until(lambda: len(desk.outbox_files()) == 8, what="every released mail sent")
    assert held(desk) == {}
    # Released mail keeps the name of the limit that held it.
    assert [r["held_by"] for r in desk.json("outbox", "list", "--status", "sent")].count("per_mailbox") == 3


def test_60_senders_at_one_domain_are_capped_by_the_domain_limit(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk(NO_DEDUPE)  # the defaults: 50 per domain
    desk.start()
    send_many(desk, [customer(f"person{n}@big.example", n) for n in range(60)])
    settled(desk, 60)
    assert count_tickets(desk) == 60
    assert len(desk.outbox_files()) == 50
    assert held(desk) == {"per_domain": 10}


def test_100_mails_from_one_sender_give_agents_a_digest_not_100_notifications(
    make_desk: Callable[..., Desk],
) -> None:
    desk = start_agent_desk(make_desk(NO_DEDUPE))
    started = time.monotonic()
    send_many(desk, [customer(KIM, n) for n in range(100)], connections=2)
    settled(desk, 100)
    assert count_tickets(desk) == 100
    one_minute = time.monotonic() - started < 55
    notifications = mail_to(desk, ANNA)
    # At most 10 a minute: exactly 10 when the flood took less than one.
    assert len(notifications) == 10 if one_minute else 10 <= len(notifications) < 100
    desk.stop()
    # The sender loop, once the minute is over (run here at that time rather than waiting for it).
    local = open_desk(load_settings(desk.config, {}))
    try:
        local.sender().send_due(now=datetime.now(UTC) + timedelta(minutes=2))
    finally:
        local.store.dispose()
    digests = [m for m in mail_to(desk, ANNA) if "Benachrichtigungen zusammengefasst" in str(m["Subject"])]
    assert len(digests) == 1
    body = digests[0].get_content()
    rest = 100 - len(notifications)
    assert str(digests[0]["Subject"]).startswith(f"{rest} Tickets") and f"statt {rest} einzelner" in body
    assert body.count("Ihre Antwortadresse: support+") == rest
    assert len(mail_to(desk, ANNA)) == len(notifications) + 1
    with desk.store.read() as session:
        statuses = dict(
            session.execute(
                select(Outbox.status, func.count())
                .where(Outbox.kind == "agent_notification")
                .group_by(Outbox.status)
            ).all()
        )
    assert statuses == {"sent": len(notifications), "digested": rest}


def test_30_forged_agent_mails_give_the_agent_one_how_to(make_desk: Callable[..., Desk]) -> None:
    desk = start_agent_desk(make_desk(NO_DEDUPE))
    forged = [(ANNA, make_mail(sender=f"Anna <{ANNA}>", subject=f"Gefälscht {n}")) for n in range(30)]
    send_many(desk, forged, connections=2)
    settled(desk, 30)
    howtos = [m for m in mail_to(desk, ANNA) if "So beantworten Sie Tickets" in str(m["Subject"])]
    assert len(howtos) == 1
    assert held(desk) == {"agent_howtos": 29}


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("replies", "max_acks_per_sender_per_hour"),
        ("replies", "max_acks_per_domain_per_hour"),
        ("replies", "max_acks_per_hour"),
        ("agent_mail", "max_notifications_per_minute"),
        ("agent_mail", "max_howtos_per_hour"),
    ],
)
def test_a_negative_limit_is_one_clear_line(tmp_path: Path, section: str, key: str) -> None:
    path = tmp_path / "postdesk.toml"
    path.write_text(f"[{section}]\n{key} = -1\n")
    with pytest.raises(ConfigError) as error:
        load_settings(path, {})
    message = str(error.value)
    assert message.startswith(f"{path}: [{section}] {key}: Input should be greater than or equal to 0")
    assert "\n" not in message


def test_the_defaults() -> None:
    settings = load_settings(None, {})
    replies, agent_mail = settings.replies, settings.agent_mail
    assert (replies.max_acks_per_sender_per_hour, replies.max_acks_per_domain_per_hour) == (5, 50)
    assert replies.max_acks_per_hour == 1000
    assert (agent_mail.max_notifications_per_minute, agent_mail.max_howtos_per_hour) == (10, 1)
