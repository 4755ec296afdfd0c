"""The built-in check (issue 16.3): `[spam] spamd` asks a real SpamAssassin spamd, started here on a
loopback port, over the SPAMC protocol. GTUBE is spam, a customer's question is not, and a spamd
that is down costs no mail."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agents_support import processed, sent_mail
from conftest import Desk, free_port, make_mail
from postdesk.spam.spamd import SpamdError, check

SPAMD = Path("/usr/sbin/spamd")
# The Generic Test for Unsolicited Bulk Email: SpamAssassin's rules score it 1000.
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


@pytest.fixture(scope="module")
def spamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real spamd on a loopback port for this module (its rules compile slowly: started once)."""
    if not SPAMD.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{SPAMD} is missing: .ci/run installs Debian's spamd")
        pytest.skip(f"{SPAMD} is not installed (Debian: apt install spamassassin spamd spamc)")
    home = tmp_path_factory.mktemp("spamd")
    port = free_port()
    log = (home / "spamd.log").open("wb")
    proc = subprocess.Popen(
        [
            str(SPAMD),
            f"--listen=127.0.0.1:{port}",
            "--local",  # no network tests (DNS blocklists, Razor): the test stays offline
            "--nouser-config",
            "--max-children=1",
            f"--pidfile={home / 'spamd.pid'}",
            "--syslog=stderr",
        ],
        env={"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"spamd exited: {(home / 'spamd.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"spamd did not listen: {(home / 'spamd.log').read_text()}"
                    ) from None
                time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        # spamd's children are in its own session: end that group, then spamd itself.
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def gtube_mail(n: int = 1) -> bytes:
    return make_mail(
        sender=f"Offer {n} <offer{n}@spam.example>", subject="Great offer", body=f"Buy now.\n{GTUBE}\n"
    ).as_bytes()


def ham_mail() -> bytes:
    return make_mail(
        sender="Kim Kunde <kim@customer.example>",
        subject="Passwort vergessen",
        body="Hallo,\nich habe mein Passwort vergessen und komme nicht mehr in mein Konto.\nGruß, Kim\n",
    ).as_bytes()


def test_spamd_scores_gtube_as_spam_and_a_question_not(spamd: tuple[str, int]) -> None:
    host, port = spamd
    spam = check(gtube_mail(), host, port, timeout=60)
    assert spam.spam and spam.score >= 1000 and spam.threshold == 5.0
    ham = check(ham_mail(), host, port, timeout=60)
    assert not ham.spam and ham.score < 5


def test_nothing_listening_is_a_spamd_error() -> None:
    with pytest.raises(SpamdError, match=r"spamd at 127\.0\.0\.1:\d+: "):
        check(ham_mail(), "127.0.0.1", free_port(), timeout=5)


def test_the_desk_asks_spamd_and_files_gtube_as_spam(
    make_desk: Callable[..., Desk], spamd: tuple[str, int]
) -> None:
    host, port = spamd
    desk = make_desk({"spam": {"spamd": f"{host}:{port}", "spamd_timeout_seconds": 30}})
    desk.start()
    desk.send(gtube_mail(), sender="offer1@spam.example")
    desk.send(ham_mail(), sender="kim@customer.example")
    processed(desk, 2)
    [spam] = desk.json("tickets", "list", "--status", "spam")
    assert spam["customer"] == "offer1@spam.example" and spam["spam_reason"].startswith(
        "spamd: spam (score 10"
    )
    [ham] = desk.json("tickets", "list")
    assert ham["customer"] == "kim@customer.example"
    assert [str(m["To"]) for m in sent_mail(desk)] == ["Kim Kunde <kim@customer.example>"]


def test_a_spamd_that_is_down_costs_no_mail(make_desk: Callable[..., Desk]) -> None:
    closed = free_port()
    desk = make_desk({"spam": {"spamd": f"127.0.0.1:{closed}", "spamd_timeout_seconds": 2}})
    desk.start()
    desk.send(gtube_mail(), sender="offer1@spam.example")
    processed(desk, 1)
    [ticket] = desk.json("tickets", "list")
    assert ticket["customer"] == "offer1@spam.example"
    assert len(sent_mail(desk)) == 1
    assert f"not spam-checked: spamd at 127.0.0.1:{closed}" in desk.log.read_text()
