"""Parse throughput: postdesk's parse_mail against the stdlib's modern policy.

Parses every mail file of the shared corpus N times (default 5) with

- ``parse_mail`` (what the pipeline runs),
- ``BytesParser(policy=policy.default)`` plus reading the same fields
  (headers, addresses, body via ``get_body``, attachments) — what a plain
  stdlib parser would have to do; mails where it raises are counted,
- both parsers' tree building alone, for reference,

and prints messages per second for each, all in one run on one core.

    .venv/bin/python bench/parse.py [--repeat N] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from pathlib import Path

from postdesk.parse.mime import parse_mail

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"

# Whole messages (headers and body); the corpus also holds bare bodies,
# certificates, images and YAML expectations, which are not mail.
MAIL_GLOBS = (
    "zammad/test/data/mail/*.box",
    "zammad/test/data/ticket_trigger/*.box",
    "zammad/spec/fixtures/files/smime/*.eml",
    "sisimai-set-of-emails/maildir/*/*.eml",
    "sisimai-set-of-emails/to-be-debugged-because/*/*.eml",
    "mail-parser/tests/mails/*",
    "cpython-test_email/data/msg_*.txt",
    "talon/tests/fixtures/**/*.eml",
)


def mail_files(corpus: Path) -> list[Path]:
    return sorted({path for pattern in MAIL_GLOBS for path in corpus.glob(pattern) if path.is_file()})


def stdlib_default(raw: bytes) -> None:
    """The same reading with the modern policy: it raises on some real mail."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    for name in ("subject", "message-id", "in-reply-to", "references", "date"):
        str(msg.get(name, ""))
    for name in ("from", "to", "cc", "reply-to"):
        header = msg.get(name)
        if header is not None:
            [(a.display_name, a.addr_spec) for a in header.addresses]
    [str(value) for value in msg.values()]
    body = msg.get_body(preferencelist=("plain", "html"))
    if body is not None:
        body.get_content()
    for attachment in msg.iter_attachments():
        attachment.get_content()


def stdlib_default_tree(raw: bytes) -> None:
    BytesParser(policy=policy.default).parsebytes(raw)


def stdlib_compat32_tree(raw: bytes) -> None:
    BytesParser(policy=policy.compat32).parsebytes(raw)


def measure(
    parse: Callable[[bytes], object], mails: list[bytes], repeat: int
) -> tuple[float, int, list[float]]:
    """Messages per second, failures, and per-message seconds of the last round."""
    failures = 0
    per_message: list[float] = []
    started = time.perf_counter()
    for round_number in range(repeat):
        for raw in mails:
            t0 = time.perf_counter()
            try:
                parse(raw)
            except Exception:  # noqa: BLE001 - counting failures is the point
                failures += 1
            if round_number == repeat - 1:
                per_message.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    return len(mails) * repeat / elapsed, failures // repeat, per_message


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    files = mail_files(args.corpus)
    if not files:
        print(f"no mail found under {args.corpus}", file=sys.stderr)
        return 1
    mails = [path.read_bytes() for path in files]
    sizes = [len(raw) for raw in mails]
    print(
        f"{len(mails)} mails, {sum(sizes) / 2**20:.1f} MiB, mean {statistics.mean(sizes) / 1024:.1f} KiB,"
        f" median {statistics.median(sizes) / 1024:.1f} KiB; {args.repeat} rounds"
    )
    typical = [i for i, size in enumerate(sizes) if 20 * 1024 <= size <= 40 * 1024]
    candidates = [
        ("postdesk parse_mail", parse_mail),
        ("stdlib policy.default, same fields", stdlib_default),
        ("stdlib policy.default, tree only", stdlib_default_tree),
        ("stdlib compat32, tree only", stdlib_compat32_tree),
    ]
    for label, parse in candidates:
        rate, failures, per_message = measure(parse, mails, args.repeat)
        typical_ms = statistics.median(per_message[i] for i in typical) * 1000 if typical else float("nan")
        print(
            f"{label:36} {rate:8.0f} msgs/s   median {statistics.median(per_message) * 1000:6.2f} ms"
            f"   20-40 KiB mails ({len(typical)}): median {typical_ms:5.2f} ms   raised on {failures}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
