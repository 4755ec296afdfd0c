"""Shared by the benchmarks: realistic mail, a loopback SMTP load generator,
and a record of the machine's conditions to print beside the figures."""

from __future__ import annotations

import os
import platform
import smtplib
import socket
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from email.message import EmailMessage
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}"
    )


def realistic_mails(count: int) -> list[bytes]:
    """COUNT mails: the real support mail of the Zammad corpus, each made unique
    (its own Message-ID), cycled; generated ~30 KiB mails when it is absent."""
    sources = sorted((CORPUS / "zammad" / "test" / "data" / "mail").glob("mail*.box"))
    base = [path.read_bytes() for path in sources] or [_generated(n) for n in range(50)]
    mails = []
    for n in range(count):
        raw = base[n % len(base)]
        mails.append(
            f"Message-ID: <bench-{n}-{time.time_ns()}@bench.example>\r\n".encode() + _without_message_id(raw)
        )
    return mails


def _without_message_id(raw: bytes) -> bytes:
    head, sep, body = raw.partition(b"\n\n") if b"\r\n\r\n" not in raw else raw.partition(b"\r\n\r\n")
    kept = [line for line in head.splitlines(keepends=True) if not line.lower().startswith(b"message-id:")]
    return b"".join(kept) + sep + body


def _generated(n: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Customer {n} <customer{n}@example.net>"
    message["To"] = "support@example.com"
    message["Subject"] = f"Problem number {n} with my mailbox"
    message.set_content(("I cannot reach my mail since this morning. " * 12 + "\n") * 60)
    return message.as_bytes()


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _send_share(port: int, mails: list[bytes]) -> int:
    """One connection, reused for every mail, as an MTA does; returns how many got 250."""
    ok = 0
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        for raw in mails:
            client.sendmail("bench@example.net", ["support@example.com"], raw)
            ok += 1
    return ok


def smtp_load(port: int, mails: list[bytes], connections: int) -> tuple[float, int]:
    """Send MAILS over CONNECTIONS parallel connections (one process each, so the
    client is not the bottleneck); returns (seconds, accepted)."""
    shares = [mails[i::connections] for i in range(connections)]
    with ProcessPoolExecutor(max_workers=connections) as pool:
        list(pool.map(_send_share, [port] * connections, [[s[0]] for s in shares]))  # warm up
        start = time.perf_counter()
        accepted = sum(pool.map(_send_share, [port] * connections, shares))
        return time.perf_counter() - start, accepted


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
