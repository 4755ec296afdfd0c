"""The README's five-minute tour, run word for word, and its documented outputs checked (issue 23.6).

The README once showed the tour's ticket as `urgent` with a 1 h due time
while the defaults give `normal` and 24 h: examples written by hand drift.
Here the tour's shell blocks are taken out of README.md and run as they
stand, in an empty folder, against `postdesk serve` on embedded defaults
(what `make run` starts; only the port is another, since 2525 may be taken
on a shared machine). Then what the README says they show is checked: the
acknowledgement's subject, reply address and quote, the follow-up landing
on the same ticket, and the JSON example of "JSON output", which must be
what the tour's `tickets show 10001 --json` prints, key for key and value
for value (`…` stands for anything; timestamps for the time of the run).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import REPO, free_port

README = REPO / "README.md"
ANYTHING = "…"


def section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def tour_commands() -> list[str]:
    """The tour's shell blocks, less `make run` (the test starts serve itself, as make run does)."""
    found = blocks(section(README.read_text(encoding="utf-8"), "A five-minute tour"), "sh")
    assert found[0].strip() == "make run", found[0]
    return found[1:]


def documented_json() -> dict[str, Any]:
    [example] = blocks(section(README.read_text(encoding="utf-8"), "JSON output"), "json")
    value: dict[str, Any] = json.loads(example)
    return value


def marked(marker: str) -> list[int]:
    """Live processes with MARKER in their environment: serve and its children."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker.encode() in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
    return found


class Tour:
    """An empty folder with `.venv/bin/python` and `.venv/bin/postdesk` as the README's commands call them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.marker = f"TOUR_TEST_ROOT={root}"
        bin_dir = root / ".venv" / "bin"
        bin_dir.mkdir(parents=True)
        for name, command in (("python", f"{sys.executable}"), ("postdesk", f"{sys.executable} -m postdesk")):
            script = bin_dir / name
            script.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
            script.chmod(0o755)
        (root / "faq").symlink_to(REPO / "faq")  # make run indexes the repository's example FAQ
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("POSTDESK_")}
        self.env["POSTDESK_INGEST__SMTP__PORT"] = str(self.port)
        self.env["TOUR_TEST_ROOT"] = str(root)  # finds serve's processes; no config key
        self.serve: subprocess.Popen[bytes] | None = None

    def shell(self, script: str) -> str:
        return self.shell_bytes(script).decode()

    def shell_bytes(self, script: str) -> bytes:
        script = script.replace("2525", str(self.port))
        result = subprocess.run(
            ["bash", "-e", "-c", script], cwd=self.root, env=self.env, capture_output=True, timeout=120
        )
        assert result.returncode == 0, (script, result.stderr.decode())
        return result.stdout

    def postdesk(self, *args: str) -> str:
        return self.shell(" ".join([".venv/bin/postdesk", *args]))

    def start(self) -> None:
        self.shell(".venv/bin/postdesk faq index")
        log = (self.root / "serve.log").open("ab")
        self.serve = subprocess.Popen(
            [sys.executable, "-m", "postdesk", "serve"], cwd=self.root, env=self.env, stdout=log, stderr=log
        )
        self.wait(self.listening, "serve listening")

    def listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def wait(self, check: Any, what: str, timeout: float = 45) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := check():
                return value
            time.sleep(0.1)
        raise AssertionError(
            f"timed out waiting for {what}:\n{(self.root / 'serve.log').read_text()[-3000:]}"
        )

    def outbox(self) -> list[Path]:
        new = self.root / "outbox" / "new"
        return sorted(new.iterdir()) if new.is_dir() else []

    def ticket(self) -> dict[str, Any]:
        shown: dict[str, Any] = json.loads(self.postdesk("tickets", "show", "10001", "--json"))
        return shown

    def stop(self) -> None:
        if self.serve is not None:
            self.serve.send_signal(signal.SIGTERM)
            try:
                self.serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.serve.kill()
                self.serve.wait()
        left = self.wait(lambda: not marked(self.marker) or None, "no process of the tour left", 10)
        assert left


def same_as_documented(shown: Any, documented: Any, where: str, problems: list[str]) -> None:
    """Every key and value the README shows is in SHOWN; `…` and a `…` in a string match anything."""
    if isinstance(documented, dict):
        if not isinstance(shown, dict):
            problems.append(f"{where}: README shows an object, the tour gives {shown!r}")
            return
        for key, value in documented.items():
            if key not in shown:
                problems.append(f"{where}.{key}: in the README, not in the output")
            else:
                same_as_documented(shown[key], value, f"{where}.{key}", problems)
        return
    if isinstance(documented, list):
        if not isinstance(shown, list) or len(shown) != len(documented):
            problems.append(f"{where}: README shows {len(documented)} item(s), the tour gives {shown!r}")
            return
        for n, (got, want) in enumerate(zip(shown, documented, strict=True)):
            same_as_documented(got, want, f"{where}[{n}]", problems)
        return
    if isinstance(documented, str) and ANYTHING in documented:
        head, _, tail = documented.partition(ANYTHING)
        if not (isinstance(shown, str) and shown.startswith(head) and shown.endswith(tail)):
            problems.append(f"{where}: README {documented!r}, the tour {shown!r}")
        return
    if isinstance(documented, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", documented):
        return  # a timestamp: the time of the run (the gaps between them are checked below)
    if shown != documented:
        problems.append(f"{where}: README {documented!r}, the tour {shown!r}")


def test_the_readme_tour_runs_and_shows_what_the_readme_says(tmp_path: Path) -> None:
    tour = Tour(tmp_path / "tour")
    send, show, cat, reply = tour_commands()
    tour.start()
    try:
        tour.shell(send)
        tour.wait(lambda: tour.outbox(), "the acknowledgement in outbox/new")
        listing = tour.shell(show)
        assert "10001" in listing and "kim@customer.example" in listing
        shown = tour.ticket()

        # "Its subject starts with [Ticket#10001], its Reply-To is a signed reply
        # address such as support+10001-cx4k…@example.com, and it quotes what Kim wrote."
        assert cat.strip() == "cat outbox/new/*"
        ack = email.message_from_bytes(tour.shell_bytes(cat), policy=email.policy.default)
        assert str(ack["Subject"]).startswith("[Ticket#10001]")
        assert re.fullmatch(r"support\+10001-c\w+@example\.com", str(ack["Reply-To"]))
        body = ack.get_body(("plain",))
        assert (
            body is not None and "> seit heute früh kann ich mich nicht mehr anmelden." in body.get_content()
        )

        # "... and the reply lands on the same ticket".
        tour.shell(reply)
        tour.wait(
            lambda: tour.ticket()["message_count"] > shown["message_count"], "the reply on ticket 10001"
        )
    finally:
        tour.stop()

    # The JSON example is this tour's `tickets show 10001 --json`.
    documented = documented_json()
    problems: list[str] = []
    same_as_documented(shown, documented, "ticket", problems)
    assert not problems, "\n".join(problems)
    due = datetime.fromisoformat(shown["first_response_due"]) - datetime.fromisoformat(shown["created_at"])
    documented_due = datetime.fromisoformat(documented["first_response_due"]) - datetime.fromisoformat(
        documented["created_at"]
    )
    assert abs(due - documented_due) < timedelta(minutes=1), (due, documented_due)
