"""Imports point one way: ui -> app -> retrieval -> models -> kernels, with the shared types, errors and paths
as leaves that import nothing of ours; and no two modules import each other, directly or around a circle.

Read from the source (an AST walk, imports inside functions included), so the check costs no imports. The
imports that break the rule today are listed below as known exceptions (issue 26): a new one fails the test,
and so does a listed one that is gone, so that the list only shrinks and is empty when the layers are done.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"ui": "longlens.ui", "app": "longlens", "retrieval": "longlens.retrieval", "models": "longlens.models",
            "kernels": "longlens.kernels"}
LAYER = {"longlens.ui": 4, "longlens": 3, "longlens.retrieval": 2, "longlens.models": 1, "longlens.kernels": 0}
# May be imported by any layer and import nothing of ours: the shared types and errors (app/schema.py, which
# the layers issue may move to a leaf package of its own) and the data-directory paths.
LEAVES = {"longlens.schema", "longlens.paths"}

KNOWN_UPWARD: set[tuple[str, str]] = set()  # (importer, imported): a lower layer importing a higher one, today
KNOWN_CYCLES: set[frozenset[str]] = set()


def modules() -> dict[str, Path]:
    """Every module of the packages, by its dotted name."""
    out = {}
    for folder, dotted in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([dotted, *parts])] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ours that `name` imports (a package's `from x import y` counts y when it is a module)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import longlens.models.llm.layers as x` etc.
                target = target.rpartition(".")[0]
            if target.startswith("longlens") and target != name:
                found.add(target)
    return found


def package_of(name: str) -> str:
    return max((p for p in LAYER if name == p or name.startswith(p + ".")), key=len)


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def test_imports_point_down_the_layers():
    upward, leaf_imports = set(), set()
    for name, targets in graph().items():
        for target in targets:
            if name in LEAVES:
                leaf_imports.add((name, target))
            elif target not in LEAVES and LAYER[package_of(target)] > LAYER[package_of(name)]:
                upward.add((name, target))
    assert not leaf_imports, f"the shared types, errors and paths must import nothing of ours: {leaf_imports}"
    assert upward - KNOWN_UPWARD == set(), "imports against ui -> app -> retrieval -> models -> kernels"
    assert KNOWN_UPWARD - upward == set(), "fixed: delete these from KNOWN_UPWARD"


def strongly_connected(g: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the groups of modules that import each other around a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            out.append(group)

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_circles():
    cycles = {frozenset(c) for c in strongly_connected(graph()) if len(c) > 1}
    assert cycles - KNOWN_CYCLES == set(), "modules that import each other"
    assert KNOWN_CYCLES - cycles == set(), "fixed: delete these from KNOWN_CYCLES"


def test_the_check_sees_a_violation(tmp_path):
    """The walk finds relative and absolute imports, so an upward import cannot slip past it."""
    src = tmp_path / "mod.py"
    src.write_text("from ..ui import app\nimport longlens.retrieval.bm25 as b\nfrom longlens import store\n")
    known = {"longlens.ui", "longlens.ui.app", "longlens.retrieval.bm25", "longlens.store", "longlens.models.x"}
    assert imports_of("longlens.models.x", src, known) == {"longlens.ui.app", "longlens.retrieval.bm25",
                                                          "longlens.store"}
