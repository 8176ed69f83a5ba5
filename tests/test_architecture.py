"""The house rules of ARCHITECTURE.md, checked on the source: no import cycle (imports inside
functions count), each layer imports only what lies below it, and no module grows past
MAX_LINES."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import ROOT

PACKAGE = ROOT / "mailhub"
MAX_LINES = 500
EDGES = (
    "mailhub.ingress.smtp",
    "mailhub.ingress.imap",
    "mailhub.web",
    "mailhub.cli",
    "mailhub.tasks",
)
# Privacy works across everything (and its mail joins outbound's kind table where the runtime
# is wired); nothing it works on imports it.
BELOW_PRIVACY = (
    "mailhub.outbound",
    "mailhub.domain",
    "mailhub.mailboxes",
    "mailhub.content",
    "mailhub.ingress",
    "mailhub.stores",
    "mailhub.models",
)


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    found = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """Every mailhub module `name` imports, at the top or inside a function."""

    def resolve(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        for target in targets:
            if target.startswith("mailhub"):
                found = resolve(target)
                if found and found != name:
                    yield found


def graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    known = modules(root)
    return {name: set(imports(name, path, known)) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def broken_rules(edges: dict[str, set[str]]) -> list[str]:
    def within(name: str, *packages: str) -> bool:
        return any(name == p or name.startswith(p + ".") for p in packages)

    broken = []
    for name, targets in sorted(edges.items()):
        for target in sorted(targets):
            if within(name, "mailhub.content") and within(target, "mailhub.models", "mailhub.db"):
                broken.append(f"{name} imports {target}: content/ steps are pure")
            if within(
                name,
                "mailhub.mailboxes",
                "mailhub.outbound",
                "mailhub.domain",
                "mailhub.models",
                "mailhub.privacy",
                "mailhub.stores",
            ) and within(target, *EDGES):
                broken.append(f"{name} imports the edge {target}")
            if within(name, *BELOW_PRIVACY) and within(target, "mailhub.privacy"):
                broken.append(f"{name} imports {target}: privacy uses outbound, not the reverse")
            if within(name, "mailhub.models") and not within(
                target, "mailhub.models", "mailhub.errors"
            ):
                broken.append(f"{name} imports {target}: models/ import nothing above themselves")
    broken += [f"{name}: a cycle through {', '.join(c)}" for c in cycles(edges) for name in c[:1]]
    return broken


def test_the_import_graph_keeps_the_rules() -> None:
    assert broken_rules(graph()) == []


def test_no_module_is_over_the_size_limit() -> None:
    long = {n: len(p.read_text().splitlines()) for n, p in modules().items()}
    assert {n: count for n, count in long.items() if count > MAX_LINES} == {}


@pytest.mark.parametrize(
    ("module", "added", "rule"),
    [
        ("mailboxes/pages.py", "from mailhub.ingress.imap import ImapPoller", "edge"),
        ("outbound/render.py", "from mailhub.web import app", "edge"),
        ("content/trim.py", "from mailhub.models import Page", "pure"),
        ("routing.py", "from mailhub.mailboxes import pages", "cycle"),
        ("outbound/deliver.py", "from mailhub.privacy import report", "privacy"),
    ],
)
def test_the_rules_fail_when_a_layer_reaches_too_far(
    tmp_path: Path, module: str, added: str, rule: str
) -> None:
    # Given a copy of the package with one import added where it breaks a rule
    copy = tmp_path / "mailhub"
    for path in modules().values():
        target = copy / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    changed = copy / module
    changed.write_text(changed.read_text() + f"\n\ndef _reach() -> None:\n    {added}\n")
    # Then the rule test names it
    broken = broken_rules(graph(copy))
    assert broken and any(
        rule in b or module.removesuffix(".py").replace("/", ".") in b for b in broken
    )
