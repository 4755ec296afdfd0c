"""IMAP ingest end to end: mail waiting in a local Dovecot's INBOX until every
message is a ticket, through a real `postdesk serve` (SQLite).

    .venv/bin/python bench/imap.py [--mails 2000]

The mails (the Zammad corpus, each made unique) are APPENDed first (not
timed). Then `serve` starts; the clock runs from its start until every mail
is stored, moved to Processed and processed into a ticket. Printed: that
end-to-end rate, the rate of the IMAP import alone (first to last mail
stored), and the peak RSS of serve and its worker processes. --import-only
runs serve without the pipeline and sender: the import's own rate and memory. Needs
/usr/sbin/dovecot (Debian dovecot-imapd); stops by itself after --timeout.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from common import REPO, free_port, machine, progress, realistic_mails

sys.path.insert(0, str(REPO / "tests"))  # the tests' Dovecot setup, used as is

from imap_support import Dovecot, mailbox, start_dovecot  # noqa: E402
from postdesk.store.models import ImapMailboxState, Inbound  # noqa: E402
from postdesk.store.session import Store, open_store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    parser.add_argument(
        "--import-only",
        action="store_true",
        help="serve --no-process --no-send: time the IMAP import alone (and its memory for a big backlog)",
    )
    options = parser.parse_args()
    print(f"machine: {machine()}")
    mails = realistic_mails(options.mails)
    dovecot = start_dovecot()
    try:
        with dovecot.client() as client:
            for raw in mails:
                client.append("INBOX", raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        progress(f"appended {len(mails)} mails ({sum(map(len, mails)) / 2**20:.1f} MiB) to INBOX")
        with tempfile.TemporaryDirectory() as tmp:
            run(Path(tmp), dovecot, len(mails), options.timeout, options.import_only)
    finally:
        dovecot.close()


def run(root: Path, dovecot: Dovecot, count: int, timeout: float, import_only: bool) -> None:
    url = f"sqlite:///{root / 'postdesk.db'}"
    box = mailbox(dovecot)
    config = root / "postdesk.toml"
    config.write_text(
        f'[store]\nurl = "{url}"\n\n[desk]\nsecret = "bench"\n\n'
        f"[ingest.smtp]\nport = {free_port()}\n\n"
        f'[outbound]\ntransport = "maildir:{root / "outbox"}"\n\n[log]\nlevel = "warning"\n\n'
        "[[ingest.imap]]\n" + "".join(f"{key} = {_toml(value)}\n" for key, value in box.items())
    )
    log = (root / "serve.log").open("wb")
    began = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "postdesk",
            "--config",
            str(config),
            "serve",
            *(["--no-process", "--no-send"] if import_only else []),
        ],
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    store: Store | None = None
    try:
        first_stored = last_stored = done_at = None
        while time.perf_counter() - began < timeout:
            time.sleep(0.2)
            if proc.poll() is not None:
                raise SystemExit(f"serve ended:\n{(root / 'serve.log').read_text()}")
            if store is None:
                if not (root / "postdesk.db").exists():
                    continue
                store = open_store(url)
            try:
                stored, done = _counts(store)
            except Exception:  # the schema is still being created
                continue
            now = time.perf_counter()
            if stored and first_stored is None:
                first_stored = now
            if stored >= count and last_stored is None and dovecot.count("INBOX") == 0:
                last_stored = time.perf_counter()  # stored and moved
            progress(f"stored {stored}/{count}, tickets done {done}/{count}")
            if done >= count or (import_only and last_stored is not None):
                done_at = now
                break
        if done_at is None or first_stored is None or last_stored is None:
            raise SystemExit(f"not done after {timeout:.0f} s")
        rss = _peak_rss_mib(proc.pid)
        total = done_at - began
        imap_only = max(last_stored - first_stored, 1e-9)
        if not import_only:
            print(
                f"imap end to end, serve with 1 worker, SQLite: {count} mails in {total:.1f} s "
                f"= {count / total:.0f} msgs/s (serve start to last ticket)"
            )
        print(
            f"imap import alone: {count} mails stored and moved in {imap_only:.1f} s "
            f"= {count / imap_only:.0f} msgs/s"
        )
        print(f"peak RSS: {rss}")
        print(f"left in INBOX: {dovecot.count('INBOX')}, in Processed: {dovecot.count('Processed')}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        if store is not None:
            store.dispose()


def _counts(store: Store) -> tuple[int, int]:
    with store.read() as session:
        state = session.get(ImapMailboxState, "support")
        stored = state.imported if state is not None else 0
        done = session.execute(
            select(func.count()).select_from(Inbound).where(Inbound.status == "done")
        ).scalar_one()
        return stored, done


def _peak_rss_mib(pid: int) -> str:
    """VmHWM of serve and each of its child processes (resource tracker, sender, pipeline worker)."""
    parts = []
    for each in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                kib = int(line.split()[1])
                parts.append(f"{'serve' if each == pid else 'child ' + str(each)} {kib / 1024:.0f} MiB")
    return ", ".join(parts)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def _toml(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


if __name__ == "__main__":
    main()
