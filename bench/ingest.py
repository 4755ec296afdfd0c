"""SMTP ingest over loopback: postdesk's durable listener against a bare
aiosmtpd server that stores nothing, measured side by side in one run.

    .venv/bin/python bench/ingest.py [--mails 2000] [--connections 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import free_port, machine, progress, realistic_mails, smtp_load, wait_for_port

HERE = Path(__file__).resolve().parent


def start(
    args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_bare(mails: list[bytes], connections: int) -> float:
    port = free_port()
    proc = start([sys.executable, str(HERE / "bare_smtp.py"), str(port)])
    try:
        wait_for_port(port)
        seconds, accepted = smtp_load(port, mails, connections)
        return accepted / seconds
    finally:
        proc.terminate()
        proc.wait()


def run_postdesk(
    mails: list[bytes], connections: int, serve_args: list[str], store_url: str | None = None
) -> float:
    """Messages/s into `postdesk serve SERVE_ARGS`; its store is STORE_URL (default: a new SQLite file)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env.update(
            {
                "POSTDESK_STORE__URL": store_url or f"sqlite:///{tmp}/postdesk.db",
                "POSTDESK_INGEST__SMTP__PORT": str(port),
                "POSTDESK_OUTBOUND__TRANSPORT": f"maildir:{tmp}/outbox",
                "POSTDESK_LOG__LEVEL": "warning",
            }
        )
        env.pop("POSTDESK_CONFIG", None)
        proc = start([sys.executable, "-m", "postdesk", "serve", *serve_args], env=env, cwd=Path(tmp))
        try:
            wait_for_port(port)
            seconds, accepted = smtp_load(port, mails, connections)
            return accepted / seconds
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    mails = realistic_mails(options.mails)
    size = sum(map(len, mails)) / len(mails) / 1024
    print(f"machine: {machine()}")
    print(
        f"mails: {len(mails)} (mean {size:.1f} KiB), {options.connections} connections, "
        f"{options.rounds} rounds"
    )
    rates: dict[str, list[float]] = {
        "bare aiosmtpd": [],
        "postdesk listener only": [],
        "postdesk serve (with worker)": [],
    }
    for round_ in range(1, options.rounds + 1):
        # Interleaved, so a noisy neighbour hurts every contender alike.
        rates["bare aiosmtpd"].append(run_bare(mails, options.connections))
        rates["postdesk listener only"].append(
            run_postdesk(mails, options.connections, ["--no-process", "--no-send"])
        )
        rates["postdesk serve (with worker)"].append(run_postdesk(mails, options.connections, []))
        progress(f"round {round_}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in rates.items()))
    bare = statistics.median(rates["bare aiosmtpd"])
    for name, values in rates.items():
        median = statistics.median(values)
        print(
            f"{name:<30} {median:8.0f} msgs/s  ({median / bare:5.0%} of bare)  rounds: "
            + " ".join(f"{v:.0f}" for v in values)
        )


if __name__ == "__main__":
    main()
