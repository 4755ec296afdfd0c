"""The shared corpus is reached only through tests/corpus.py, so a plain clone skips, never fails.

A user's clone has no ../shared. A test that builds the corpus path itself
(or takes the bare CORPUS constant) raises FileNotFoundError there, while
CI, which always has the corpus, never notices. This test reads every test
module's syntax tree and names the ones that do.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
GATE = "corpus.py"
THIS = Path(__file__).name  # its own example strings are not offences
# Only functions that skip when the corpus is absent may leave corpus.py.
RAW_PATHS = {"CORPUS", "DEFAULT_CORPUS"}
USE_HELPER = "use corpus_dir()/corpus_file()"


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if text == "shared" or "shared/corpus" in text or text.startswith("../shared"):
                found.append(f"{path.name}:{node.lineno}: builds the corpus path itself ({text!r})")
        elif isinstance(node, ast.ImportFrom) and node.module == "corpus":
            for alias in node.names:
                if alias.name in RAW_PATHS:
                    found.append(f"{path.name}:{node.lineno}: imports {alias.name}; {USE_HELPER}")
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in RAW_PATHS
            and isinstance(node.value, ast.Name)
            and node.value.id == "corpus"
        ):
            found.append(f"{path.name}:{node.lineno}: uses corpus.{node.attr}; {USE_HELPER}")
    return found


def test_every_test_reaches_the_corpus_through_the_skip_helper() -> None:
    offences = [
        offence
        for path in sorted(TESTS.rglob("*.py"))
        if path.name not in (GATE, THIS)
        for offence in _offences(path)
    ]
    assert offences == []


def test_the_check_catches_a_module_that_reads_the_corpus_directly(tmp_path: Path) -> None:
    module = tmp_path / "test_direct.py"
    module.write_text(
        "from pathlib import Path\n"
        "from corpus import CORPUS\n"
        "RAW = Path(__file__).parents[2] / 'shared' / 'corpus'\n"
        "def test_it():\n"
        "    (CORPUS / 'zammad').read_bytes()\n",
        encoding="utf-8",
    )
    offences = " | ".join(_offences(module))
    assert "test_direct.py:2: imports CORPUS" in offences
    assert "test_direct.py:3: builds the corpus path itself ('shared')" in offences
