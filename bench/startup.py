"""Start-up of whole `postdesk` processes: wall time (median) and peak RSS.

    .venv/bin/python bench/startup.py [--runs 11] [--baseline /path/to/older/checkout]

Each case runs once to warm the page cache, then RUNS times; a process is
timed from spawn to exit and its peak RSS read from its own rusage. With
--baseline (a checkout of an earlier commit, e.g. `git worktree add
/tmp/before HEAD~1`), every case is run with that tree's `src/` and with this
one's, alternating run by run, so both see the same machine; the ratio is
the figure to compare (the machines are shared and noisy).

Cases: `python -c pass`, `postdesk --help`, `mailgate` of a 5 KB and a 40 KB
mail into SQLite (and into PostgreSQL with --pg-url), `tickets list --json`
on a desk of 1,000 tickets, `process --once` on an empty spool.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from common import machine, progress

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass(frozen=True)
class Case:
    name: str
    args: list[str]
    stdin: bytes = b""
    python_only: bool = False


def mail_of(size: int, n: int = 0) -> bytes:
    message = EmailMessage()
    message["From"] = f"Kim Kunde <kim{n}@customer.example>"
    message["To"] = "support@example.com"
    message["Subject"] = "Login geht nicht"
    message["Message-ID"] = f"<startup-{size}-{n}@customer.example>"
    line = "Seit dem Update komme ich nicht mehr in mein Konto, bitte helfen Sie mir.\n"
    message.set_content(line * max(1, size // len(line)))
    return message.as_bytes()


def run_once(src: Path, case: Case, cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    """(seconds, peak RSS in KiB) of one whole process."""
    command = (
        [sys.executable, "-c", "pass"] if case.python_only else [sys.executable, "-m", "postdesk", *case.args]
    )
    child_env = dict(env, PYTHONPATH=str(src))
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=child_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(case.stdin)
    proc.stdin.close()
    errors = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{case.name} with {src}: exit {proc.returncode}: {errors.decode()[-500:]}")
    return seconds, usage.ru_maxrss


def prepare_desk(src: Path, folder: Path, store_url: str, tickets: int) -> dict[str, str]:
    """A migrated desk at STORE_URL holding TICKETS tickets; returns the environment that points at it."""
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.pop("POSTDESK_CONFIG", None)
    env.update(
        {
            "POSTDESK_STORE__URL": store_url,
            "POSTDESK_OUTBOUND__TRANSPORT": f"maildir:{folder}/outbox",
            "POSTDESK_LOG__LEVEL": "warning",
            "PYTHONPATH": str(src),
        }
    )
    subprocess.run(
        [sys.executable, "-m", "postdesk", "db", "upgrade"],
        cwd=folder,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if tickets:
        seed = (
            "import sys\n"
            "from postdesk.receive.spool import Received, spool_messages\n"
            "from postdesk.store.session import open_store\n"
            "sys.path.insert(0, sys.argv[2])\n"
            "from startup import mail_of\n"
            "store = open_store(sys.argv[1])\n"
            "spool_messages(store, [Received(mail_of(2000, n), 'bench', None, ('support@example.com',))"
            " for n in range(int(sys.argv[3]))])\n"
        )
        subprocess.run([sys.executable, "-c", seed, store_url, str(HERE), str(tickets)], env=env, check=True)
        subprocess.run(
            [sys.executable, "-m", "postdesk", "process", "--once"],
            cwd=folder,
            env=env,
            check=True,
            stderr=subprocess.DEVNULL,
        )
    return env


def measure(
    trees: dict[str, Path], cases: list[tuple[Case, dict[str, dict[str, str]], Path]], runs: int
) -> list[str]:
    lines = []
    for case, envs, cwd in cases:
        times: dict[str, list[float]] = {label: [] for label in trees}
        peaks: dict[str, list[int]] = {label: [] for label in trees}
        for label, src in trees.items():
            run_once(src, case, cwd, envs[label])  # warm-up
        for _ in range(runs):
            for label, src in trees.items():
                seconds, peak = run_once(src, case, cwd, envs[label])
                times[label].append(seconds)
                peaks[label].append(peak)
        cells = []
        for label in trees:
            wall, peak = statistics.median(times[label]) * 1000, max(peaks[label]) / 1024
            cells.append(f"{label} {wall:7.0f} ms {peak:6.1f} MiB")
        if len(trees) == 2:
            before, after = (statistics.median(times[label]) for label in trees)
            cells.append(f"{before / after:5.1f}x faster")
        line = f"{case.name:<34} " + " | ".join(cells)
        progress(line)
        lines.append(line)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--baseline", type=Path, help="an earlier checkout to compare with, side by side")
    parser.add_argument("--pg-url", help="also mailgate into this PostgreSQL database (it is migrated)")
    parser.add_argument("--tickets", type=int, default=1000)
    options = parser.parse_args()

    trees = {"now": ROOT / "src"}
    if options.baseline:
        trees = {"before": options.baseline.resolve() / "src", **trees}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        small, large = mail_of(5_000), mail_of(40_000)
        envs_gate = {
            label: prepare_desk(src, root / label / "gate", f"sqlite:///{root}/{label}/gate/postdesk.db", 0)
            for label, src in trees.items()
        }
        envs_empty = {
            label: prepare_desk(src, root / label / "empty", f"sqlite:///{root}/{label}/empty/postdesk.db", 0)
            for label, src in trees.items()
        }
        progress(f"seeding {options.tickets} tickets per tree ...")
        envs_full = {
            label: prepare_desk(
                src, root / label / "full", f"sqlite:///{root}/{label}/full/postdesk.db", options.tickets
            )
            for label, src in trees.items()
        }
        cases = [
            (Case("python -c pass", [], python_only=True), envs_gate, root),
            (Case("postdesk --help", ["--help"]), envs_gate, root),
            (Case("mailgate 5 KB, SQLite", ["mailgate"], small), envs_gate, root),
            (Case("mailgate 40 KB, SQLite", ["mailgate"], large), envs_gate, root),
        ]
        if options.pg_url:
            envs_pg = {
                label: prepare_desk(src, root / label / "pg", options.pg_url, 0)
                for label, src in trees.items()
            }
            cases += [
                (Case("mailgate 5 KB, PostgreSQL", ["mailgate"], small), envs_pg, root),
                (Case("mailgate 40 KB, PostgreSQL", ["mailgate"], large), envs_pg, root),
            ]
        cases += [
            (
                Case(f"tickets list --json, {options.tickets} tickets", ["tickets", "list", "--json"]),
                envs_full,
                root,
            ),
            (Case("process --once, empty spool", ["process", "--once"]), envs_empty, root),
        ]
        lines = measure(trees, cases, options.runs)
    print(f"# startup, {options.runs} runs each after a warm-up; {machine()}")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
