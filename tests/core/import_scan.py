"""Every import statement in metaviz's source, read with ``ast`` (nothing is imported).

Used by test_import_graph.py (no cycle among metaviz's modules) and test_qt_free.py
(no Qt outside metaviz/ui). An import is *module-level* when it runs as the module is
imported: anywhere but inside a function (a class body runs at import time, so it
counts; an ``if TYPE_CHECKING:`` block never runs, so it does not).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import metaviz

PACKAGE_DIR = Path(metaviz.__file__).resolve().parent
PACKAGE = "metaviz"


@dataclass(frozen=True)
class ImportEdge:
    source: str  # the importing module, e.g. "metaviz.jobs.training"
    target: str  # the absolute name of the imported module, e.g. "metaviz.learners.base"
    path: Path
    line: int
    module_level: bool


def module_name(path: Path, root: Path = PACKAGE_DIR, package: str = PACKAGE) -> str:
    """``metaviz/jobs/training.py`` -> ``metaviz.jobs.training``; a package's ``__init__.py`` -> the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def source_files(root: Path = PACKAGE_DIR) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def resolve_relative(importer: str, is_package: bool, level: int, module: str | None) -> str:
    """The absolute module a ``from <level dots><module> import ...`` in ``importer`` names."""
    if level == 0:
        return module or ""
    parts = importer.split(".")
    if not is_package:
        parts.pop()  # a plain module's package is its parent
    if level > 1:
        if level - 1 >= len(parts):
            raise ValueError(f"{importer}: relative import beyond the top-level package")
        parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([module] if module else []))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """(import node, runs at module import time) for every import in ``tree``."""

    def visit(node: ast.AST, module_level: bool) -> Iterator[tuple[ast.AST, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, module_level
            inner = module_level and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for statement in child.body:  # never runs: not module-level
                    yield from visit(ast.Module(body=[statement], type_ignores=[]), False)
                for statement in child.orelse:
                    yield from visit(ast.Module(body=[statement], type_ignores=[]), inner)
                continue
            yield from visit(child, inner)

    yield from visit(tree, True)


def imported_modules(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool,
                     known: set[str]) -> list[str]:
    """Absolute names of the modules an import statement imports. ``from X import name``
    names the submodule ``X.name`` too when that is a module in ``known``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = resolve_relative(importer, is_package, node.level, node.module)
    targets = [base]
    for alias in node.names:
        if f"{base}.{alias.name}" in known:
            targets.append(f"{base}.{alias.name}")
    return targets


def all_imports(root: Path = PACKAGE_DIR, package: str = PACKAGE) -> list[ImportEdge]:
    """Every import of every module under ``root`` (also those of other packages, e.g. torch)."""
    files = source_files(root)
    known = {module_name(p, root, package) for p in files}
    edges = []
    for path in files:
        importer = module_name(path, root, package)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, module_level in _imports(tree):
            for target in imported_modules(node, importer, path.name == "__init__.py", known):
                edges.append(ImportEdge(importer, target, path, node.lineno, module_level))
    return edges


def internal_graph(edges: list[ImportEdge], module_level_only: bool) -> dict[str, set[str]]:
    """Every metaviz module -> the metaviz modules it imports (module-level imports only, or all)."""
    graph: dict[str, set[str]] = {module_name(p): set() for p in source_files()}
    for edge in edges:
        graph.setdefault(edge.source, set())
        if module_level_only and not edge.module_level:
            continue
        if edge.target == PACKAGE or edge.target.startswith(PACKAGE + "."):
            if edge.target != edge.source:
                graph[edge.source].add(edge.target)
    return graph


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """A cycle ``[a, b, ..., a]`` in ``graph`` (module -> modules), or None."""
    white, grey, black = 0, 1, 2
    colour = {node: white for node in graph}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = grey
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            state = colour.get(nxt, white)
            if state == grey:
                return stack[stack.index(nxt):] + [nxt]
            if state == white:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[node] = black
        return None

    for node in sorted(graph):
        if colour[node] == white:
            found = visit(node)
            if found:
                return found
    return None
