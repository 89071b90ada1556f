"""The package's layout holds: wings on floors, every import pointing down, no circles.

See ARCHITECTURE.md. The graph comes from exchange_tools.imports, the same code that prints the
drawing there.
"""

from __future__ import annotations

import ast
import importlib.metadata

from exchange_tools.imports import FLOORS, PACKAGE_ROOT, cycles, edges, wing

HEAVY = {"airflow", "dbt", "dbt_common", "great_expectations", "pgserver", "uvicorn", "charset_normalizer", "openpyxl",
         "playwright", "cosmos", "openlineage", "pandas", "pyarrow"}
"""Third-party packages whose import costs seconds: the only ones a function may import late."""

ENTRY_WINGS = {"cli", "web"}
"""Where a process starts: these may import an exchange module late, for start-up time and memory."""


def test_every_wing_has_a_floor():
    wings = {p.name for p in PACKAGE_ROOT.iterdir() if (p / "__init__.py").exists()}
    assert wings == set(FLOORS)


def test_imports_point_down_the_floors():
    upward = [e for e in edges() if wing(e.source) and wing(e.target)
              and FLOORS[wing(e.target)] > FLOORS[wing(e.source)]]
    assert upward == []


def test_no_circle_between_modules_or_wings():
    all_edges = edges()
    modules: dict[str, set[str]] = {}
    wings: dict[str, set[str]] = {}
    for e in all_edges:
        modules.setdefault(e.source, set()).add(e.target)
        if wing(e.source) and wing(e.target) and wing(e.source) != wing(e.target):
            wings.setdefault(wing(e.source), set()).add(wing(e.target))
    assert cycles(modules) == []
    assert cycles(wings) == []


def test_exchange_modules_are_imported_at_the_top():
    """An import inside a function hides a circle: only the entry wings (the command line, the web
    server) defer their own modules, for start-up time and memory (see exchange/cli/__init__.py);
    the circle test above counts those imports too."""
    deferred = [f"{e.source}:{e.line} -> {e.target}" for e in edges()
                if e.deferred and wing(e.source) not in ENTRY_WINGS]
    assert deferred == []


def test_late_imports_are_only_heavy_packages():
    late = []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = set(map(id, tree.body))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top:
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                late += [f"{path.relative_to(PACKAGE_ROOT)}:{node.lineno} {n}" for n in names
                         if n.split(".")[0] not in HEAVY and not (n.startswith("exchange.") and path.parent.name in ENTRY_WINGS)
                         and not _guarded_by_type_checking(tree, node)]
    assert late == []


def test_the_product_never_imports_the_development_tools():
    offenders = []
    for path in PACKAGE_ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(PACKAGE_ROOT)}:{node.lineno}" for n in names
                          if n.split(".")[0] == "exchange_tools"]
    assert offenders == []


def test_tool_commands_reach_the_cli_through_an_entry_point():
    group = {ep.name for ep in importlib.metadata.entry_points(group="exchange.commands")}
    assert {"demo", "generate", "bench"} <= group


def _guarded_by_type_checking(tree: ast.Module, target: ast.AST) -> bool:
    return any(isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
               and any(child is target for child in ast.walk(node)) for node in ast.walk(tree))
