"""A mail that kills its worker is failed after 3 tries; the desk goes on with the rest.

The worker process really dies: a test-only stage in front of the pipeline
calls os._exit on one mail, inside `postdesk process --once` run as its own
process (the same entry point as the command). Each claim is committed
before the mail is processed, so the count survives the death.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from conftest import Desk, make_mail
from postdesk.receive.spool import Received, spool_messages
from postdesk.store.migrate import upgrade
from postdesk.store.models import Inbound, InboundClaim, Message

POISON_SUBJECT = "this one kills the worker"
DIED = 9

# `postdesk process --once` with one more stage in front: it ends the process on the poison mail.
KILLING_WORKER = f"""
import os, sys
import postdesk.pipeline.worker as worker
from postdesk.pipeline import STAGES, run_stages

def poison(work, env):
    if work.mail is not None and work.mail.subject == {POISON_SUBJECT!r}:
        os._exit({DIED})
    return work

worker.run_stages = lambda work, env: run_stages(work, env, (("poison", poison), *STAGES))
from postdesk.cli.main import main
main(["process", "--once"])
"""

OTHERS = 200


def _spool(desk: Desk) -> int:
    upgrade(desk.store)
    mails = [make_mail(sender=f"c{n}@customer.example", subject=f"Frage {n}") for n in range(OTHERS)]
    mails.insert(50, make_mail(subject=POISON_SUBJECT))
    ids = spool_messages(
        desk.store,
        [Received(m.as_bytes(), "test", "kim@customer.example", ("support@example.com",)) for m in mails],
    )
    return ids[50]


def _run_worker(desk: Desk) -> int:
    result = subprocess.run(
        [sys.executable, "-c", KILLING_WORKER],
        cwd=desk.root,
        env=desk.env(),
        capture_output=True,
        timeout=300,
    )
    return result.returncode


def test_a_mail_that_kills_the_worker_fails_after_three_tries(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk({"replies": {"acknowledge": False}})
    poison_id = _spool(desk)
    exits = []
    while len(exits) < 8 and (not exits or exits[-1] != 0):
        exits.append(_run_worker(desk))
    assert exits == [DIED, DIED, DIED, 0]

    failed = desk.json("inbound", "list", "--status", "failed")
    assert [(row["id"], row["error"]) for row in failed] == [(poison_id, "worker died 3 times on this mail")]
    with desk.store.read() as session:
        done = session.scalar(select(func.count()).select_from(Inbound).where(Inbound.status == "done"))
        assert done == OTHERS
        assert session.scalar(select(func.count()).select_from(Message)) == OTHERS
        # Finished mail keeps no claims; the poison mail keeps its three.
        claims = session.execute(select(InboundClaim.inbound_id)).scalars().all()
        assert claims == [poison_id] * 3

    # An operator puts it back: it gets three fresh tries.
    desk.run("inbound", "retry", str(poison_id))
    assert desk.json("inbound", "list", "--status", "pending")[0]["id"] == poison_id
    with desk.store.read() as session:
        assert session.scalar(select(func.count()).select_from(InboundClaim)) == 0
    assert _run_worker(desk) == DIED


def test_a_message_over_the_time_limit_fails_and_the_rest_go_on(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk({"replies": {"acknowledge": False}, "pipeline": {"message_timeout_seconds": 1}})
    upgrade(desk.store)
    slow, quick = make_mail(subject="takes forever"), make_mail(subject="Frage")
    spool_messages(
        desk.store,
        [
            Received(m.as_bytes(), "test", "kim@customer.example", ("support@example.com",))
            for m in (slow, quick)
        ],
    )
    hanging = KILLING_WORKER.replace(f"os._exit({DIED})", "__import__('time').sleep(3600)").replace(
        repr(POISON_SUBJECT), repr("takes forever")
    )
    result = subprocess.run(
        [sys.executable, "-c", hanging], cwd=desk.root, env=desk.env(), capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stderr.decode()
    [failed] = desk.json("inbound", "list", "--status", "failed")
    assert failed["error"] == "processing took longer than 1 s ([pipeline] message_timeout_seconds)"
    with desk.store.read() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 1


@pytest.mark.parametrize("value", [-1, "soon"])
def test_a_bad_time_limit_is_one_clear_line(make_desk: Callable[..., Desk], value: object) -> None:
    desk = make_desk({"pipeline": {"message_timeout_seconds": value}})
    result = desk.run("inbound", "list", check=False)
    assert result.returncode != 0
    assert "[pipeline] message_timeout_seconds" in result.stderr.decode()
