"""The shared mail corpus (../shared/corpus): where it is, what in it is mail, expectations.

Every test that reads it goes through `corpus_dir()` or `corpus_file()`,
which skip the test with a clear reason when the folder or file is absent
(a user's clone has no ../shared). tests/test_corpus_access.py fails when a
test module reaches the corpus another way. `POSTDESK_TEST_CORPUS` points
the tests at another folder: `.ci/run` points it at an empty one to prove
that a plain clone skips these tests instead of failing them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
CORPUS = Path(os.environ.get("POSTDESK_TEST_CORPUS") or DEFAULT_CORPUS)
SISIMAI = "sisimai-set-of-emails/maildir"
ZAMMAD_MAIL = "zammad/test/data/mail"

# Whole messages (headers and body). The corpus also holds bare reply bodies,
# certificates, images and YAML expectations: those are parsed too (parse_mail
# must survive any bytes) but not counted as mail.
MAIL_GLOBS = (
    "zammad/test/data/mail/*.box",
    "zammad/test/data/ticket_trigger/*.box",
    "zammad/spec/fixtures/files/smime/*.eml",
    "sisimai-set-of-emails/maildir/*/*.eml",
    "sisimai-set-of-emails/to-be-debugged-because/*/*.eml",
    "sisimai-set-of-emails/mailbox/*",
    "mail-parser/tests/mails/*",
    "cpython-test_email/data/msg_*.txt",
    "talon/tests/fixtures/**/*.eml",
)


def corpus_dir() -> Path:
    if not CORPUS.is_dir() or next(CORPUS.iterdir(), None) is None:
        pytest.skip(f"mail corpus not found at {CORPUS} (it lives beside the project in CI)")
    return CORPUS


def corpus_file(relative: str) -> Path:
    """One file of the corpus; skips the test when it is absent."""
    path = corpus_dir() / relative
    if not path.is_file():
        pytest.skip(f"corpus file {path} is absent")
    return path


def bench_figures(script: str) -> Any:
    """What `bench/SCRIPT --json --corpus CORPUS` prints, read; skips without the corpus."""
    repo = Path(__file__).resolve().parents[1]
    path = os.pathsep.join([str(repo / "src"), os.environ.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, str(repo / "bench" / script), "--json", "--corpus", str(corpus_dir())],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": path},
        timeout=300,
        check=True,
    )
    return json.loads(result.stdout)


def all_files() -> list[Path]:
    return sorted(path for path in corpus_dir().rglob("*") if path.is_file())


def mail_files() -> list[Path]:
    root = corpus_dir()
    return sorted({path for pattern in MAIL_GLOBS for path in root.glob(pattern) if path.is_file()})


def mbox_messages(path: Path) -> Iterator[bytes]:
    """The messages of an mbox file, split at its "From " lines."""
    message: list[bytes] = []
    for line in path.read_bytes().splitlines(keepends=True):
        if line.startswith(b"From ") and message:
            yield b"".join(message)
            message = []
        message.append(line)
    if message:
        yield b"".join(message)


def sisimai(folder: str, prefix: str = "") -> list[Path]:
    return sorted((corpus_dir() / SISIMAI / folder).glob(f"{prefix}*.eml"))


def zammad_cases() -> list[tuple[Path, dict[str, Any]]]:
    """(mailNNN.box, its parsed mailNNN.yml) for every Zammad sample that has both."""
    yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read Zammad's expectations")

    class Loader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
        """Reads Ruby-tagged YAML (!ruby/hash:...) as plain mappings."""

    def untagged(loader: Any, suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("!", untagged)
    cases = []
    for box in sorted((corpus_dir() / ZAMMAD_MAIL).glob("mail*.box")):
        expected = box.with_suffix(".yml")
        if expected.is_file():
            cases.append((box, yaml.load(expected.read_bytes(), Loader=Loader)))
    return cases


def normalise(text: str | None) -> str:
    return " ".join(str(text or "").split())
