"""The house plan, checked: who may import whom inside src/postdesk (docs/architecture.md).

    core/      imports nothing else of postdesk
    store/     imports only core/ and config/
    domain     (parse, classify, threads, tickets, dedupe, triage, features,
               voicemail, agents, faq, templates, reports, deliver, spam, privacy) never
               imports pipeline/, receive/, runtime/ or cli/
    and no two packages import each other, directly or around a circle.

Imports are read from the syntax tree (the `ast` module), function-level
ones included: a late import is still a dependency. Imports under
`if TYPE_CHECKING:` are not, since they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "postdesk"

CORE = "core"
STORE = "store"
DOMAIN = frozenset(
    {
        "parse",
        "classify",
        "threads",
        "tickets",
        "dedupe",
        "triage",
        "features",
        "language",
        "voicemail",
        "agents",
        "faq",
        "templates",
        "reports",
        "deliver",
        "spam",
        "privacy",
    }
)
ABOVE_DOMAIN = frozenset({"pipeline", "receive", "runtime", "cli"})


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every postdesk import that runs."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "postdesk":
                for alias in node.names:
                    yield node.lineno, f"postdesk.{alias.name}"
            elif node.module.startswith("postdesk."):
                yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("postdesk."):
                    yield node.lineno, alias.name
        stack.extend(ast.iter_child_nodes(node))


def package_of(module: str) -> str:
    """'postdesk.pipeline.stages.thread' -> 'pipeline'; a root module is its own node."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def import_edges(src: Path = SRC) -> list[tuple[str, str, str]]:
    """(importing package, imported package, 'file:line') for every import between two packages."""
    edges = []
    for path in sorted(src.rglob("*.py")):
        relative = path.relative_to(src.parent)
        if "migrations" in relative.parts:
            continue
        module = ".".join(relative.with_suffix("").parts)
        source = package_of(module)
        for line, target_module in _imported(ast.parse(path.read_text(encoding="utf-8"))):
            target = package_of(target_module)
            if target and source and target != source:
                edges.append((source, target, f"{relative}:{line} imports {target_module}"))
    return edges


def layering_faults(edges: list[tuple[str, str, str]]) -> list[str]:
    faults = []
    for source, target, where in edges:
        if source == CORE:
            faults.append(f"core imports another package: {where}")
        elif source == STORE and target not in {CORE, "config"}:
            faults.append(f"store imports above core/config: {where}")
        elif source in DOMAIN and target in ABOVE_DOMAIN:
            faults.append(f"domain package {source} imports {target}: {where}")
    return faults


def cycles(edges: list[tuple[str, str, str]]) -> list[list[str]]:
    """The package-level import cycles (strongly connected components of more than one package)."""
    graph: dict[str, set[str]] = {}
    for source, target, _ in edges:
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the graph has some 20 nodes
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _explain(component: list[str], edges: list[tuple[str, str, str]]) -> str:
    inside = [where for source, target, where in edges if source in component and target in component]
    return f"{' <-> '.join(component)}: " + "; ".join(inside[:12])


def test_the_layers_import_only_downwards() -> None:
    assert layering_faults(import_edges()) == []


def test_no_two_packages_import_each_other() -> None:
    edges = import_edges()
    assert [_explain(component, edges) for component in cycles(edges)] == []


def test_every_module_sits_in_a_package_of_the_plan() -> None:
    """The root holds only the package's own files; everything else has a place in the plan."""
    loose = sorted(p.name for p in SRC.glob("*.py") if p.name not in {"__init__.py", "__main__.py"})
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    planned = DOMAIN | ABOVE_DOMAIN | {CORE, STORE, "config", "ops"}
    assert (loose, sorted(packages - planned)) == ([], [])


@pytest.mark.parametrize(
    ("package", "line", "fault"),
    [
        ("core", "from postdesk.store.models import Ticket", "core imports another package"),
        ("store", "from postdesk.pipeline.env import StageEnv", "store imports above core/config"),
        ("triage", "from postdesk.pipeline import STAGES", "domain package triage imports pipeline"),
    ],
)
def test_the_check_fails_on_a_forbidden_import(tmp_path: Path, package: str, line: str, fault: str) -> None:
    root = tmp_path / "postdesk"
    (root / package).mkdir(parents=True)
    (root / package / "bad.py").write_text(f"{line}\n", encoding="utf-8")
    assert [f for f in layering_faults(import_edges(root)) if f.startswith(fault)] != []


def test_the_check_finds_a_cycle(tmp_path: Path) -> None:
    root = tmp_path / "postdesk"
    for package, line in [("agents", "import postdesk.triage.rules"), ("triage", "import postdesk.agents.x")]:
        (root / package).mkdir(parents=True)
        (root / package / "m.py").write_text(f"{line}\n", encoding="utf-8")
    assert cycles(import_edges(root)) == [["agents", "triage"]]
