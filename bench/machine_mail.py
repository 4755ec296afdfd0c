"""Machine mail through the real pipeline: the whole sisimai `maildir/bsd` set.

    .venv/bin/python bench/machine_mail.py [--list-misses]

Every message is stored in a fresh SQLite desk (as the mailgate would, the
envelope sender unknown) and processed by the pipeline with acknowledgements
on. Prints, per kind the file name promises (``lhost-*``, ``rhost-*``,
``rfc3464-*``: bounce; ``rfc3834-*``: auto-reply; ``arf-*``: abuse report),
how many were recognised as that kind, how many acknowledgements the desk
queued for any of them (the answer must be 0, apart from a person's forward
of a bounce, which is a customer's mail), and which queue abuse reports went to.
Bounded: ~630 messages, under a minute on two cores.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from common import CORPUS, machine
from postdesk.classify.kind import classify
from postdesk.config import load_settings
from postdesk.parse.mime import parse_mail
from postdesk.receive.spool import Received, spool_messages
from postdesk.runtime.desk import open_desk
from postdesk.store.models import Inbound, Message, Outbox, Ticket

BSD = CORPUS / "sisimai-set-of-emails" / "maildir" / "bsd"
EXPECTED = {
    "lhost": "bounce",
    "rhost": "bounce",
    "rfc3464": "bounce",
    "rfc3834": "auto_reply",
    "arf": "abuse_report",
}


def expected_kind(path: Path) -> str:
    return EXPECTED[path.name.split("-", 1)[0]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list-misses", action="store_true", help="Name every message not recognised.")
    args = parser.parse_args()
    paths = sorted(BSD.glob("*.eml"))
    if not paths:
        raise SystemExit(f"no corpus at {BSD}")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as root:
        env = {
            "POSTDESK_STORE__URL": f"sqlite:///{root}/postdesk.db",
            "POSTDESK_OUTBOUND__TRANSPORT": f"maildir:{root}/outbox",
            "POSTDESK_DESK__SECRET": "bench",
            "POSTDESK_FAQ__SUGGEST": "false",
        }
        settings = load_settings(None, env)
        desk = open_desk(settings, migrate=True, synchronous="NORMAL")
        received = [
            Received(
                raw=p.read_bytes(), envelope_from=None, recipients=("support@example.com",), via="mailgate"
            )
            for p in paths
        ]
        start = time.perf_counter()
        ids = spool_messages(desk.store, received)
        processor = desk.processor()
        while processor.process_pending(limit=500):
            pass
        elapsed = time.perf_counter() - start
        name_of = dict(zip(ids, paths, strict=True))
        with desk.store.read() as session:
            rows = session.execute(
                select(
                    Message.id.label("message_id"),
                    Message.inbound_id,
                    Message.kind,
                    Ticket.queue,
                    Message.ticket_id,
                )
                .join(Ticket, Ticket.id == Message.ticket_id)
                .where(Message.inbound_id.in_(ids))
            ).all()
            # A repeated delivery (same Message-ID and body: the corpus has a few) is
            # not stored again; it counts as the message it repeats.
            repeats = session.execute(
                select(Inbound.id, Inbound.result).where(
                    Inbound.id.in_(ids), Inbound.result.like("repeated delivery%")
                )
            ).all()
            acked_tickets = set(
                session.execute(select(Outbox.ticket_id).where(Outbox.kind == "acknowledgement")).scalars()
            )
        desk.store.dispose()
    found = {row.inbound_id: row for row in rows}
    by_message = {row.message_id: row for row in rows}
    for inbound_id, result in repeats:
        found[inbound_id] = by_message[int(re.search(r"message (\d+)", result)[1])]
    print(
        f"{len(paths)} messages of {BSD.relative_to(CORPUS)} processed in {elapsed:.1f} s: "
        f"{len(rows)} stored, {len(repeats)} repeated deliveries of one of them"
    )
    misses = []
    for kind in ("bounce", "auto_reply", "abuse_report"):
        mine = [i for i in ids if expected_kind(name_of[i]) == kind]
        hit = [i for i in mine if found[i].kind == kind]
        print(f"  {kind:12} {len(hit):3}/{len(mine):3} = {len(hit) / len(mine):6.1%} recognised as {kind}")
        misses += [(name_of[i], kind) for i in mine if i not in hit]
    kinds = Counter(found[i].kind for i in ids)
    print(f"  kinds stored: {dict(kinds)}")
    acked = [i for i in ids if found[i].ticket_id in acked_tickets]
    to_machine = [i for i in acked if found[i].kind != "customer"]
    print(
        f"  acknowledgements queued: {len(acked)} {[name_of[i].name for i in acked]}; "
        f"to mail classified as machine mail: {len(to_machine)}"
    )
    abuse_queues = Counter(found[i].queue for i in ids if found[i].kind == "abuse_report")
    print(f"  abuse reports by queue: {dict(abuse_queues)}")
    if args.list_misses or len(misses) <= 20:
        for path, wanted in misses:
            result = classify(parse_mail(path.read_bytes()), None, settings.own_addresses)
            print(f"    miss {path.name}: expected {wanted}, got {result.kind.value} ({result.reason})")


if __name__ == "__main__":
    main()
