"""Every message of the shared corpus through mailgate and the pipeline:
no crash, nothing lost, defects recorded, no acknowledgement to a machine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from corpus import mail_files, mbox_messages
from pg_support import backends, postgres_database
from postdesk.cli.main import main
from postdesk.config import load_settings
from postdesk.parse.is_mail import not_a_mail
from postdesk.runtime.desk import open_desk
from postdesk.store.models import Inbound, Message, Outbox


def corpus_messages() -> list[tuple[str, bytes]]:
    """Every mail of the corpus; the few files that are no mail at all (an Outlook .msg, a bare
    header block) are refused at the door instead, as tests/test_not_a_mail.py checks."""
    messages = []
    for path in mail_files():
        if "mailbox" in path.parts:
            messages.extend((f"{path.name}#{n}", raw) for n, raw in enumerate(mbox_messages(path)))
        else:
            messages.append((str(path), path.read_bytes()))
    return [(name, raw) for name, raw in messages if not_a_mail(raw) is None]


@pytest.fixture(scope="module", params=backends())
def corpus_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The module's store URL, once on each backend (the corpus is processed once per backend)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('corpus-db') / 'postdesk.db'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory, corpus_store: str) -> dict[str, object]:
    root = tmp_path_factory.mktemp("corpus")
    env = {
        "POSTDESK_STORE__URL": corpus_store,
        "POSTDESK_OUTBOUND__TRANSPORT": f"maildir:{root / 'outbox'}",
        "POSTDESK_DESK__SECRET": "corpus",
        "POSTDESK_LOG__LEVEL": "warning",
    }
    settings = load_settings(None, env)
    desk = open_desk(settings, migrate=True)
    messages = corpus_messages()
    runner = CliRunner()
    exit_codes: Counter[int] = Counter()
    inbound_of: dict[str, int] = {}
    for name, raw in messages:
        # No --sender: like procmail, the envelope is unknown and the
        # Return-Path header stands in for it.
        result = runner.invoke(main, ["mailgate", "--recipient", "support@example.com"], input=raw, env=env)
        exit_codes[result.exit_code] += 1
        assert result.exit_code == 0, f"{name}: exit {result.exit_code}: {result.output}"
        inbound_of[name] = int(re.search(r"stored as inbound (\d+)", result.stderr)[1])
    processor = desk.processor()
    while processor.process_pending(limit=500):
        pass
    yield {
        "desk": desk,
        "messages": messages,
        "exit_codes": exit_codes,
        "inbound_of": inbound_of,
        "env": env,
        "root": root,
    }
    desk.store.dispose()


def test_every_corpus_message_is_stored_and_processed(processed: dict) -> None:
    desk, messages = processed["desk"], processed["messages"]
    assert len(messages) > 900
    with desk.store.transaction() as session:
        statuses = dict(session.execute(select(Inbound.status, func.count()).group_by(Inbound.status)).all())
        failed = session.execute(select(Inbound.id, Inbound.error).where(Inbound.status == "failed")).all()
        stored_in = session.execute(select(func.count()).where(Message.direction == "in")).scalar_one()
        repeats = session.execute(
            select(func.count()).where(Inbound.result.like("repeated delivery%"))
        ).scalar_one()
    assert failed == [], failed[:5]
    assert statuses == {"done": processed["exit_codes"][0]}
    # Nothing lost: every stored delivery is a message, or a repeat of one (same Message-ID).
    assert stored_in + repeats == statuses["done"]
    print(f"\ncorpus: {len(messages)} messages, {stored_in} stored, {repeats} repeated Message-IDs")


def test_unreadable_parts_are_flagged_as_defects(processed: dict) -> None:
    with processed["desk"].store.transaction() as session:
        defects = session.execute(select(Message.defects).where(Message.direction == "in")).scalars().all()
    flagged = [d for d in defects if d]
    assert len(flagged) > 20
    print(f"\n{len(flagged)} of {len(defects)} corpus messages carry defects")


def test_no_acknowledgement_to_bounces_or_auto_replies(processed: dict) -> None:
    with processed["desk"].store.transaction() as session:
        acked_kinds = Counter(
            session.execute(
                select(Message.kind)
                .join(Outbox, Outbox.ticket_id == Message.ticket_id)
                .where(Message.direction == "in")
            ).scalars()
        )
    assert set(acked_kinds) <= {"customer"}, acked_kinds


def test_sisimai_bounces_get_no_acknowledgement(processed: dict) -> None:
    """The whole bsd set (bounces, auto-replies, abuse reports): none is answered."""
    bsd = {name: inbound for name, inbound in processed["inbound_of"].items() if "/maildir/bsd/" in name}
    assert len(bsd) > 600
    with processed["desk"].store.transaction() as session:
        answered = (
            session.execute(
                select(Inbound.id)
                .join(Message, Message.inbound_id == Inbound.id)
                .join(Outbox, Outbox.ticket_id == Message.ticket_id)
                .where(Inbound.id.in_(list(bsd.values())))
            )
            .scalars()
            .all()
        )
        kinds = Counter(
            session.execute(select(Message.kind).where(Message.inbound_id.in_(list(bsd.values())))).scalars()
        )
    names = {inbound: name for name, inbound in bsd.items()}
    # A person forwarding a bounce to support ("Fwd: Returned mail") is a customer asking for help.
    forwarded_by_a_person = {"lhost-sendmail-14.eml"}
    answered_names = {Path(names[i]).name for i in answered}
    assert answered_names <= forwarded_by_a_person, sorted(answered_names)
    print(f"\nsisimai bsd: {len(bsd)} messages, kinds {dict(kinds)}, 0 acknowledged")


def test_mailgate_as_a_real_process_on_corpus_mail(processed: dict) -> None:
    """A sample through the real executable, as Postfix would run it."""
    env = {**os.environ, **processed["env"]}
    env.pop("POSTDESK_CONFIG", None)
    for name, raw in processed["messages"][::150]:
        result = subprocess.run(
            [sys.executable, "-m", "postdesk", "mailgate"],
            input=raw,
            env=env,
            capture_output=True,
            cwd=Path(processed["root"]),
            timeout=60,
        )
        assert result.returncode == 0, (name, result.stderr)
