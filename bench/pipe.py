"""Postfix's `pipe` transport into `postdesk mailgate`, end to end: mails/s.

    .venv/bin/python bench/pipe.py [--mails 1000] [--baseline /path/to/older/checkout]

A private Postfix instance on loopback (the one tests/postfix_support.py
builds, as docs/postfix.md configures it) takes the corpus mails over SMTP
and hands each to `postdesk mailgate` by pipe, one process per mail, as a
real installation does. Timed from the first mail sent until the last one
is in the desk's spool. With --baseline, the same run follows with that
checkout's `src/` as the mailgate's code, so the two rates are measured on
the same machine minutes apart. Needs root, Debian's postfix, and a system
python of this minor version (the pipe's user cannot reach a private one).
"""

from __future__ import annotations

import argparse
import shutil
import smtplib
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from common import free_port, machine, progress, realistic_mails  # noqa: E402
from postfix_support import Postfix, open_for, pipe_mode  # noqa: E402


def launcher(folder: Path, src: Path) -> str:
    """A command the pipe's user can run: the system python, SRC first, then this virtualenv's packages."""
    system_python = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not system_python.exists():
        raise SystemExit(f"needs {system_python}: the pipe's user cannot run {sys.executable}")
    script = folder / "postdesk-launcher.py"
    script.write_text(
        "import site, sys\n"
        f"sys.path.insert(0, {str(src)!r})\n"
        f"site.addsitedir({sysconfig.get_paths()['purelib']!r})\n"
        "from postdesk.cli.main import main\n"
        "sys.exit(main())\n"
    )
    script.chmod(0o644)
    return f"{system_python} -I -S {script}"


def spooled(database: Path) -> int:
    try:
        with sqlite3.connect(database, timeout=30) as connection:
            return int(connection.execute("SELECT count(*) FROM inbound").fetchone()[0])
    except sqlite3.Error:
        return 0


def send(port: int, mails: list[bytes]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        for raw in mails:
            client.sendmail("bench@example.net", ["support@example.com"], raw)


def run(src: Path, mails: list[bytes], connections: int, timeout: float, concurrency: int | None) -> float:
    """Mails/s from Postfix's smtpd into the spool, with SRC's mailgate."""
    desk = Path(tempfile.mkdtemp(prefix="postdesk-pipe-bench-", dir="/tmp"))
    root = Path(tempfile.mkdtemp(prefix="postdesk-postfix-bench-", dir="/tmp"))
    postfix = Postfix(root=root, port=free_port())
    try:
        desk.chmod(0o755)
        root.chmod(0o755)
        config = desk / "postdesk.toml"
        config.write_text(
            f'[store]\nurl = "sqlite:///{desk}/postdesk.db"\n'
            f'[outbound]\ntransport = "maildir:{desk}/outbox"\n[log]\nlevel = "warning"\n'
        )
        env = {"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"}
        subprocess.run(
            [sys.executable, "-m", "postdesk", "--config", str(config), "db", "upgrade"], env=env, check=True
        )
        open_for(desk)
        main_cf, master_cf = pipe_mode(launcher(root, src), config)
        # As many mailgates at once as Postfix's default for a transport (20),
        # unless --concurrency sets the limit docs/postfix.md suggests for small machines.
        if concurrency:
            main_cf = [*main_cf, f"postdesk_destination_concurrency_limit = {concurrency}"]
        postfix.configure((main_cf, master_cf))
        postfix.start()
        shares = [mails[i::connections] for i in range(connections)]
        started = time.perf_counter()
        with ThreadPoolExecutor(connections) as pool:
            list(pool.map(send, [postfix.port] * connections, shares))
        deadline = time.monotonic() + timeout
        while spooled(desk / "postdesk.db") < len(mails):
            if time.monotonic() > deadline:
                got = spooled(desk / "postdesk.db")
                raise SystemExit(f"only {got} of {len(mails)} in the spool:\n{postfix.log_tail()}")
            time.sleep(0.05)
        return len(mails) / (time.perf_counter() - started)
    finally:
        postfix.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(desk, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--baseline", type=Path, help="an earlier checkout whose mailgate runs second")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument(
        "--concurrency", type=int, help="postdesk_destination_concurrency_limit (Postfix's default: 20)"
    )
    options = parser.parse_args()
    mails = realistic_mails(options.mails)
    trees = {"now": HERE.parent / "src"}
    if options.baseline:
        trees["before"] = options.baseline.resolve() / "src"
    rates = {}
    for label, src in trees.items():
        progress(f"{label}: {options.mails} mails through Postfix's pipe into mailgate ...")
        rates[label] = run(src, mails, options.connections, options.timeout, options.concurrency)
        progress(f"{label}: {rates[label]:.1f} mails/s")
    print(
        f"# Postfix pipe -> mailgate, {options.mails} corpus mails over {options.connections} connections,"
        f" {options.concurrency or 20} mailgates at most at once;"
        f" {machine()}"
    )
    for label, rate in rates.items():
        print(f"{label:<7} {rate:7.1f} mails/s")
    if len(rates) == 2:
        print(f"ratio   {rates['now'] / rates['before']:7.1f}x")


if __name__ == "__main__":
    main()
