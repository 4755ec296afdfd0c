"""Peak memory of `postdesk serve` under concurrent large messages, old tree and
this one side by side in one run (issue 16.5).

SESSIONS clients each send one MB-megabyte message at the same time; the
figure is the listener process's peak resident set (VmHWM in /proc), with
its resident set after start-up beside it. `serve` runs as a listener only
(--no-process --no-send) on a fresh SQLite file, so nothing but receiving
and spooling is measured. Then, on the same listener, the rate of ordinary
mail (--mails realistic mails over 16 connections), so a change to how DATA
is read shows its cost too. Each tree runs in its own process, chosen by
PYTHONPATH; the run ends by itself.

    .venv/bin/python bench/sessions.py [--old /work/main/src] [--sessions 20] [--mb 20]
                                       [--mails 2000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from common import REPO, free_port, machine, progress, realistic_mails, smtp_load, wait_for_port


@dataclass(frozen=True)
class Result:
    tree: str
    rss_start_mb: float
    peak_rss_mb: float
    seconds: float
    accepted: int
    rate: float


def body(megabytes: int) -> bytes:
    """MEGABYTES MiB in 76-character lines, like a base64 attachment (no line starts with a dot)."""
    line = (b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3" * 2)[:76]
    return (line + b"\r\n") * (megabytes * 1024 * 1024 // 78)


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise SystemExit(f"no {field} for process {pid}")


def _reply(stream) -> str:  # type: ignore[no-untyped-def]
    while True:
        line = stream.readline().decode()
        if not line or line[3:4] != "-":
            return line.strip()


def send_one(port: int, n: int, data: bytes, start: threading.Barrier, answers: list[str]) -> None:
    """One session: the envelope, then DATA sent raw (DATA shares one BODY between all threads)."""
    with socket.create_connection(("127.0.0.1", port), timeout=600) as sock, sock.makefile("rb") as stream:
        _reply(stream)
        envelope = ("EHLO bench.example", "MAIL FROM:<bench@example.net>", "RCPT TO:<support@example.com>")
        for command in envelope:
            sock.sendall(command.encode() + b"\r\n")
            _reply(stream)
        start.wait()
        sock.sendall(b"DATA\r\n")
        _reply(stream)
        header = (
            f"From: bench{n}@example.net\r\nTo: support@example.com\r\nSubject: big {n}\r\n"
            f"Message-ID: <sessions-{n}-{time.time_ns()}@bench.example>\r\n\r\n"
        )
        sock.sendall(header.encode())
        sock.sendall(data)
        sock.sendall(b".\r\n")
        answers[n] = _reply(stream)
        sock.sendall(b"QUIT\r\n")


def run_tree(name: str, src: str, sessions: int, data: bytes, mails: list[bytes]) -> Result:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POSTDESK_")}
        env.update(
            {
                "PYTHONPATH": src,
                "POSTDESK_STORE__URL": f"sqlite:///{tmp}/postdesk.db",
                "POSTDESK_INGEST__SMTP__PORT": str(port),
                "POSTDESK_OUTBOUND__TRANSPORT": f"maildir:{tmp}/outbox",
                "POSTDESK_LOG__LEVEL": "warning",
            }
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "postdesk", "serve", "--no-process", "--no-send"],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port)
            time.sleep(1)
            rss_start = status_kib(proc.pid, "VmRSS")
            answers = [""] * sessions
            barrier = threading.Barrier(sessions)
            threads = [
                threading.Thread(target=send_one, args=(port, n, data, barrier, answers))
                for n in range(sessions)
            ]
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=900)
            seconds = time.perf_counter() - began
            peak = status_kib(proc.pid, "VmHWM")
            rate_seconds, rate_accepted = smtp_load(port, mails, 16) if mails else (1.0, 0)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    accepted = sum(1 for answer in answers if answer.startswith("250"))
    return Result(name, rss_start / 1024, peak / 1024, seconds, accepted, rate_accepted / rate_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--old", default="/work/main/src", help="src folder of the tree to compare with")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--mb", type=int, default=20, help="message size in MiB")
    parser.add_argument("--mails", type=int, default=2000, help="ordinary mails for the rate; 0: none")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    data = body(args.mb)
    mails = realistic_mails(args.mails) if args.mails else []
    trees = [("old", args.old), ("new", str(REPO / "src"))]
    progress(f"{args.sessions} sessions × {len(data) / 2**20:.1f} MiB; {machine()}")
    results = []
    for round_ in range(args.rounds):
        for name, src in trees if round_ % 2 == 0 else reversed(trees):
            progress(f"round {round_ + 1}: {name} ({src})")
            results.append(run_tree(name, src, args.sessions, data, mails))
    print(
        f"{'tree':<5} {'RSS after start':>16} {'peak RSS':>10} {'seconds':>8} {'accepted':>9} "
        f"{'mails/s':>8} (ordinary mail, 16 connections)"
    )
    for r in results:
        print(
            f"{r.tree:<5} {r.rss_start_mb:>13.0f} MB {r.peak_rss_mb:>7.0f} MB {r.seconds:>8.1f} "
            f"{r.accepted:>5}/{args.sessions} {r.rate:>8.0f}"
        )
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
