"""A flood from many senders into `postdesk serve` over loopback: how fast mail is
accepted, and how many acknowledgements go out (issue 16.4).

    .venv/bin/python bench/flood.py [--mails 2000] [--connections 16] [--spam-share 0.5] [--baseline-src DIR]

Each mail has its own sender at its own domain, as a spam run or a
backscatter attack has. The whole `serve` runs (listener, worker, sender to
a maildir) with the embedded defaults, so the global limit
(`[replies] max_acks_per_hour`, 1000) is what holds. With --baseline-src
(e.g. /work/main/src) the same flood runs first against that code, so the
accept rates are compared in one run. With --spam-share, that share of the
mails carries `X-Spam-Flag: YES` as a SpamAssassin in front writes it
(docs/spam.md): the desk files them as spam and sends them nothing. The peak
RSS is the sum of the `serve` process tree's peaks (VmHWM). Bounded: at most 5,000 mails, and
each run waits at most --timeout seconds for the pipeline to finish.
"""

from __future__ import annotations

import argparse
import os
import signal
import smtplib
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from email.message import EmailMessage
from pathlib import Path

from common import free_port, machine, progress, wait_for_port

MAX_MAILS = 5000


def flood_mails(count: int, spam_share: float = 0.0) -> list[tuple[str, bytes]]:
    mails = []
    every = round(1 / spam_share) if spam_share else 0
    for n in range(count):
        sender = f"user{n}@flood{n}.example"
        message = EmailMessage()
        message["From"] = f"User {n} <{sender}>"
        message["To"] = "support@example.com"
        message["Subject"] = f"Invoice {n * 7919} question"
        message["Message-ID"] = f"<flood-{n}-{time.time_ns()}@flood{n}.example>"
        message.set_content(f"Please check order {n * 104729}, it was charged twice.\n" * 20)
        if every and n % every == 0:
            message["X-Spam-Flag"] = "YES"
            message["X-Spam-Status"] = "Yes, score=9.1 required=5.0 tests=BAYES_99"
        mails.append((sender, message.as_bytes()))
    return mails


def _send_share(port: int, mails: list[tuple[str, bytes]]) -> int:
    ok = 0
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        for sender, raw in mails:
            client.sendmail(sender, ["support@example.com"], raw)
            ok += 1
    return ok


def run(
    mails: list[tuple[str, bytes]], connections: int, src: str | None, timeout: float
) -> dict[str, float]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POSTDESK_")}
        env.update(
            {
                "POSTDESK_STORE__URL": f"sqlite:///{tmp}/postdesk.db",
                "POSTDESK_INGEST__SMTP__PORT": str(port),
                "POSTDESK_OUTBOUND__TRANSPORT": f"maildir:{tmp}/outbox",
                "POSTDESK_LOG__LEVEL": "warning",
                "POSTDESK_DESK__SECRET": "bench",
            }
        )
        if src:
            env["PYTHONPATH"] = src
        proc = subprocess.Popen(
            [sys.executable, "-m", "postdesk", "serve"],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port)
            shares = [mails[i::connections] for i in range(connections)]
            with ProcessPoolExecutor(max_workers=connections) as pool:
                start = time.perf_counter()
                accepted = sum(pool.map(_send_share, [port] * connections, shares))
                seconds = time.perf_counter() - start
            done, acks = _wait_done(Path(tmp), len(mails), timeout)
            held = _held(Path(tmp) / "postdesk.db")
            peak_mb = _peak_rss_kb(proc.pid) / 1024
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    return {
        "accepted": accepted,
        "rate": accepted / seconds,
        "processed": done,
        "acks": acks,
        "held": held,
        "peak_mb": peak_mb,
    }


def _peak_rss_kb(pid: int) -> int:
    """The sum of the peak resident sizes (VmHWM) of PID and its descendants, in KiB."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            for child in (task / "children").read_text().split():
                total += _peak_rss_kb(int(child))
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # it ended meanwhile
        return total
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            total += int(line.split()[1])
    return total


def _wait_done(root: Path, count: int, timeout: float) -> tuple[int, int]:
    """Wait until COUNT mails are processed and nothing waits to be sent; (processed, mails sent)."""
    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        with sqlite3.connect(root / "postdesk.db") as db:
            done = db.execute("SELECT count(*) FROM inbound WHERE status != 'pending'").fetchone()[0]
            waiting = db.execute(
                "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"
            ).fetchone()[0]
        if done >= count and waiting == 0:
            break
        time.sleep(0.5)
    new = root / "outbox" / "new"
    return done, len(list(new.iterdir())) if new.exists() else 0


def _held(path: Path) -> int:
    with sqlite3.connect(path) as db:
        try:
            return db.execute("SELECT count(*) FROM outbox WHERE status = 'held'").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--spam-share", type=float, default=0.0, help="share of mails flagged as spam")
    parser.add_argument("--baseline-src", default="", help="run the same flood against this src/ first")
    parser.add_argument("--timeout", type=float, default=600)
    options = parser.parse_args()
    if not 0 < options.mails <= MAX_MAILS:
        raise SystemExit(f"--mails must be between 1 and {MAX_MAILS}")
    if not 0 <= options.spam_share <= 1:
        raise SystemExit("--spam-share must be between 0 and 1")
    mails = flood_mails(options.mails, options.spam_share)
    flagged = sum(b"X-Spam-Flag: YES" in raw for _, raw in mails)
    print(f"machine: {machine()}")
    print(
        f"mails: {len(mails)} from {len(mails)} senders ({flagged} spam-flagged), "
        f"{options.connections} connections"
    )
    runs = [("baseline", options.baseline_src)] if options.baseline_src else []
    runs.append(("this code", str(Path(__file__).resolve().parents[1] / "src")))
    results = {}
    for name, src in runs:
        progress(f"{name}: flooding")
        results[name] = figures = run(mails, options.connections, src, options.timeout)
        print(
            f"{name:<10} accepted {figures['accepted']:.0f} at {figures['rate']:.0f} msgs/s; "
            f"processed {figures['processed']:.0f}; acknowledgements sent {figures['acks']:.0f}, "
            f"held {figures['held']:.0f}; peak RSS {figures['peak_mb']:.0f} MB"
        )
    if "baseline" in results:
        share = results["this code"]["rate"] / results["baseline"]["rate"]
        print(f"accept rate, this code vs baseline: {share:.0%}")


if __name__ == "__main__":
    main()
