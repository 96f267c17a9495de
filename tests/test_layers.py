"""The project's layers: every import runs down the declared order, and no modules import each
other in a circle.

The import graph is read from the source (ast), with every import counted: at module level,
inside functions and under `TYPE_CHECKING`, since each is a dependency a reader must follow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Top to bottom. A package may import its own modules and any package on a LOWER line; packages
# on one line are peers and import neither each other nor anything above them.
LAYERS: list[tuple[str, ...]] = [
    ("bench",),  # benchmarks run against a local stack
    ("stack",),  # the `botbuilder` command and the embedded stack it runs
    ("worker", "graphql_api"),  # the two processes: Temporal worker, HTTP + GraphQL API
    ("activities",),  # the engine's side effects, run by the worker
    ("workflows",),  # the engine's durable workflows and the clients that reach them
    ("services",),  # domain reads and writes, by domain
    ("channels",),  # messaging providers: settings, outbound adapters, webhook parsing
    ("flowlang",),  # the flow language: graph, expressions, validation, node types
    ("migrations",),  # the Alembic scripts
    ("models",),  # tables, pydantic domain types, Temporal payloads, settings
    ("outbound",),  # the guard on outgoing HTTP to user-given URLs
]
RANK = {package: rank for rank, line in enumerate(LAYERS) for package in line}
# Inside the API: the GraphQL schema's parts and the plain HTTP endpoints share only what sits at
# the top of `graphql_api` (auth, ids, platform, limits); neither reaches the app assembling them.
API_PEERS = ("graphql_api.graph", "graphql_api.http")
API_ASSEMBLY = ("graphql_api.app", "graphql_api.schema")


def project_modules() -> dict[str, Path]:
    """Every module of the layered packages, by dotted name."""
    modules = {}
    for package in RANK:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imported(module: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """The project modules `module` imports, each with the line of the import."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")
                package = package if path.name == "__init__.py" else package[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module:
                yield target, node.lineno


def import_graph() -> dict[str, dict[str, int]]:
    modules = project_modules()
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        graph[module] = {}
        for target, line in imported(module, path, modules):
            graph[module].setdefault(target, line)
    return graph


def circle(graph: dict[str, dict[str, int]]) -> list[str]:
    """One circle of modules importing each other (its first module repeated at the end), or []."""
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        return list(reversed(error.args[1]))
    return []


def test_every_package_is_in_a_layer() -> None:
    packages = {
        path.parent.name
        for path in ROOT.glob("*/*.py")
        if path.parent.name not in {"tests", "console", ".venv"}
        and not path.parent.name.startswith(".")
    }
    assert packages <= set(RANK), f"packages without a layer: {sorted(packages - set(RANK))}"


def test_imports_only_run_down_the_layers() -> None:
    upward = [
        f"{module} (line {line}) imports {target}"
        for module, targets in sorted(import_graph().items())
        for target, line in sorted(targets.items())
        if (source := module.split(".")[0]) != (dest := target.split(".")[0])
        and RANK[source] >= RANK[dest]
    ]
    assert not upward, "imports that do not run down the layers:\n" + "\n".join(upward)


def test_graphql_and_http_endpoints_stay_apart() -> None:
    crossing = [
        f"{module} imports {target}"
        for module, targets in sorted(import_graph().items())
        for target in sorted(targets)
        for own in API_PEERS
        if module.startswith(own)
        and (target.startswith(tuple(p for p in API_PEERS if p != own)) or target in API_ASSEMBLY)
    ]
    assert not crossing, "GraphQL and HTTP endpoints tangled:\n" + "\n".join(crossing)


def test_no_import_circles() -> None:
    found = circle(import_graph())
    assert not found, "modules importing each other in a circle: " + " -> ".join(found)


def test_the_checks_can_fail() -> None:
    """The circle finder sees a circle, and an import is resolved to the module it names."""
    found = circle({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}})
    assert len(found) == 4 and found[0] == found[-1] and set(found) == {"a", "b", "c"}
    modules = project_modules()
    graph = import_graph()
    assert "flowlang.node_base" in graph["flowlang.nodes.message"]
    assert set(modules) == set(graph)
