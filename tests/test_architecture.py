"""The layout's rules, checked on the source: imports point one way (flows → tasks → studies) and no two
project modules import each other, directly or through others (function-level imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

from tests.conftest import REPO

PACKAGES = ("flows", "tasks", "studies")
# Within tasks/, the roles depend downwards only: stage bodies on orchestration and the platform,
# orchestration on the platform, the platform on nothing above it.
ROLE_ORDER = {"tasks.platform": 0, "tasks.data": 1, "tasks.orchestration": 1, "tasks.stages": 2}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(name: str, modules: set[str]) -> str | None:
    """The project module an imported name lives in (`a.b.c` may be the function c of module a.b)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> nx.DiGraph:
    files = [p for package in PACKAGES for p in (REPO / package).rglob("*.py")]
    modules = {_module_name(p) for p in files}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for path in files:
        source = _module_name(path)
        package = source if path.name == "__init__.py" else source.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                names = [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                target = _resolve(name, modules)
                # a package's own __init__ is not an edge: importing a.b runs a, which imports nothing back
                if target and target != source and not source.startswith(f"{target}."):
                    graph.add_edge(source, target)
    return graph


def test_no_import_cycles_between_project_modules() -> None:
    cycles = list(nx.simple_cycles(import_graph()))
    assert not cycles, "import cycles: " + "; ".join(" → ".join([*c, c[0]]) for c in cycles)


def test_imports_point_from_flows_to_tasks_to_studies() -> None:
    rank = {"studies": 0, "tasks": 1, "flows": 2}
    upward = [(a, b) for a, b in import_graph().edges if rank[b.split(".")[0]] > rank[a.split(".")[0]]]
    assert not upward, f"imports against the layering (studies → tasks → flows is forbidden): {upward}"


def test_task_roles_depend_downwards_only() -> None:
    def role(module: str) -> int | None:
        return next((r for prefix, r in ROLE_ORDER.items() if module.startswith(prefix)), None)

    upward = [
        (a, b)
        for a, b in import_graph().edges
        if role(a) is not None and role(b) is not None and role(b) > role(a)
    ]
    assert not upward, f"a lower role imports a higher one: {upward}"
