"""What agent mail costs the pipeline: customer mail with agent notifications,
agents' replies (reply text split, commands, the answer to the customer), and
bounces matched to the outbox.

    .venv/bin/python bench/agent_mail.py [--tickets 200]

In-process, on a fresh SQLite store: TICKETS customer mails (real support
mail from the corpus, each notifying two agents), then one agent reply per
ticket (text, a signature and the quoted notification; every fourth one
also carries commands), then one DSN bounce per acknowledgement. Prints
mails per second and the median per mail for each kind.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import statistics
import tempfile
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from sqlalchemy import select

from common import machine, progress, realistic_mails
from postdesk.config.model import Settings
from postdesk.pipeline.worker import Processor
from postdesk.receive.mailgate import deliver
from postdesk.store.migrate import upgrade
from postdesk.store.models import Outbox
from postdesk.store.session import open_store
from postdesk.templates.render import MailTemplates

SETTINGS = Settings.model_validate(
    {
        "desk": {"secret": "bench-secret"},
        "agents": [
            {"email": "anna@example.com", "name": "Anna", "queues": ["support"], "level": 1},
            {"email": "ali@example.com", "name": "Ali", "queues": ["support"], "level": 1},
        ],
    }
)
DSN = """From: MAILER-DAEMON@mx.customer.example
To: support@example.com
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-{n}@mx.customer.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.customer.example

Final-Recipient: rfc822; {to}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--b
Content-Type: message/rfc822

Message-ID: <{original}>
From: support@example.com
To: {to}
Subject: x

--b--
"""


def timed(processor: Processor, store, raws: list[tuple[bytes, str, tuple[str, ...]]]) -> list[float]:
    for raw, sender, recipients in raws:
        deliver(store, raw, sender, recipients)
    times = []
    for _ in raws:
        start = time.perf_counter()
        processor.process_next()
        times.append(time.perf_counter() - start)
    return times


def agent_reply(notification: EmailMessage, n: int) -> bytes:
    reply = EmailMessage()
    reply["From"] = "Anna <anna@example.com>"
    reply["To"] = notification["Reply-To"]
    reply["Subject"] = "Re: " + str(notification["Subject"])
    reply["Message-ID"] = make_msgid(domain="example.com")
    reply["In-Reply-To"] = notification["Message-ID"]
    commands = "#priority high\n#pending\n" if n % 4 == 0 else ""
    quoted = "\n".join(f"> {line}" for line in notification.get_content().splitlines())
    reply.set_content(
        f"{commands}Hallo,\n\ndas Problem ist behoben; bitte melden Sie sich neu an.\n\n"
        f"Viele Grüße\nAnna\n-- \nAnna Agentin, Example GmbH\n\n"
        f"Am 23.11.2026 schrieb Example Support <support@example.com>:\n{quoted}\n"
    )
    return reply.as_bytes()


def report(label: str, times: list[float]) -> None:
    total = sum(times)
    median = statistics.median(times) * 1000
    p95 = sorted(times)[int(len(times) * 0.95)] * 1000
    print(
        f"{label:<34} {len(times):>5} mails  {len(times) / total:>7.1f}/s  "
        f"median {median:>6.1f} ms  p95 {p95:>6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'bench.db'}", synchronous="NORMAL")
        upgrade(store)
        processor = Processor(store, SETTINGS, b"bench-secret", MailTemplates())
        progress(f"{args.tickets} customer mails…")
        customers = [
            (raw, "customer@bench.example", ("support@example.com",)) for raw in realistic_mails(args.tickets)
        ]
        customer_times = timed(processor, store, customers)
        with store.read() as session:
            rows = session.execute(
                select(Outbox.kind, Outbox.raw, Outbox.message_id, Outbox.recipients)
            ).all()
        notifications = [
            email.message_from_bytes(raw, policy=email.policy.default)
            for kind, raw, _, rcpts in rows
            if kind == "agent_notification" and rcpts == ["anna@example.com"]
        ]
        acks = [(message_id, rcpts[0]) for kind, _, message_id, rcpts in rows if kind == "acknowledgement"]
        progress(f"{len(notifications)} agent replies…")
        replies = [
            (agent_reply(note, n), "anna@example.com", (note["Reply-To"].addresses[0].addr_spec,))
            for n, note in enumerate(notifications)
        ]
        reply_times = timed(processor, store, replies)
        progress(f"{len(acks)} bounces…")
        bounces = [
            (DSN.format(n=n, original=mid, to=to).encode(), "", ("support@example.com",))
            for n, (mid, to) in enumerate(acks)
        ]
        bounce_times = timed(processor, store, bounces)
        with store.read() as session:
            outcome = session.execute(select(Outbox.kind, Outbox.status)).all()
        store.dispose()
        failed = sum(1 for kind, status in outcome if kind == "acknowledgement" and status == "failed")
        answers = sum(1 for kind, _ in outcome if kind == "agent_reply")
    print(f"machine: {machine()}")
    report("customer mail + 2 notifications", customer_times)
    report("agent reply (1 in 4 with commands)", reply_times)
    report("bounce matched to the outbox", bounce_times)
    print(
        f"check: {answers} answers queued to customers, {failed}/{len(acks)} acknowledgements marked failed"
    )


if __name__ == "__main__":
    main()
