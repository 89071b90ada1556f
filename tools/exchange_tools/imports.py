"""The import graph of the exchange package, drawn by floors.

Why it exists: the package is laid out in wings (core, intake, access, feed, pipeline, web, cli), and
each wing may only lean on the floors below it. tests/test_architecture.py holds the tree to that rule
with the graph computed here, and `python -m exchange_tools.imports` prints the drawing that
ARCHITECTURE.md shows, so the picture in the docs is always the one the code has.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import exchange

FLOORS: dict[str, int] = {"core": 0, "intake": 1, "access": 1, "feed": 1, "pipeline": 2, "web": 3, "cli": 4}
"""Each wing's floor: an import may point at the same floor (without a circle) or lower, never higher."""

PACKAGE_ROOT = Path(exchange.__file__).parent


@dataclass(frozen=True)
class Edge:
    """An import of one exchange module by another; `deferred` when made inside a function."""

    source: str
    target: str
    line: int
    deferred: bool


def module_name(path: Path, root: Path = PACKAGE_ROOT) -> str:
    """exchange.<wing>.<module> for a file of the package (packages by their __init__)."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _targets(node: ast.Import | ast.ImportFrom, known: set[str]) -> list[str]:
    """The exchange modules an import statement reaches (`from exchange.x import y` reaches x.y if a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "exchange"]
    if node.level or not node.module or node.module.split(".")[0] != "exchange":
        return []
    found = []
    for alias in node.names:
        candidate = f"{node.module}.{alias.name}"
        found.append(candidate if candidate in known else node.module)
    return found


def edges(root: Path = PACKAGE_ROOT) -> list[Edge]:
    """Every import between exchange modules, top-level or deferred into a function."""
    files = sorted(root.rglob("*.py"))
    known = {module_name(f, root) for f in files}
    found: list[Edge] = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = set(map(id, tree.body))
        source = module_name(path, root)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(node, known):
                    if target != source and not source.startswith(target + "."):
                        found.append(Edge(source, target, node.lineno, id(node) not in top))
    return found


def wing(module: str) -> str | None:
    """The wing of exchange.<wing>.<...>, None for the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each a circle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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


def drawing(all_edges: list[Edge]) -> str:
    """The wings floor by floor, top floor first, with the wings each one imports."""
    wing_edges: dict[str, set[str]] = {}
    for edge in all_edges:
        a, b = wing(edge.source), wing(edge.target)
        if a and b and a != b:
            wing_edges.setdefault(a, set()).add(b)
    lines = []
    for floor in sorted(set(FLOORS.values()), reverse=True):
        for name in sorted(w for w, f in FLOORS.items() if f == floor):
            below = ", ".join(sorted(wing_edges.get(name, set()), key=lambda w: (-FLOORS[w], w))) or "-"
            lines.append(f"floor {floor}  {name:<9} -> {below}")
    return "\n".join(lines)


def main() -> None:
    print(drawing(edges()))


if __name__ == "__main__":
    sys.exit(main())
