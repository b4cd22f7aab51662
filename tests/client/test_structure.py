"""The client's modules import one way: no cycle, and neither `models` nor `order` reaches back to `fabric`."""

from __future__ import annotations

import ast
from pathlib import Path

import fabric.client

CLIENT = Path(fabric.client.__file__).parent


def client_imports() -> dict[str, set[str]]:
    """Each `fabric.client` module's imports of other `fabric.client` modules, wherever in the file they sit."""
    graph: dict[str, set[str]] = {}
    for path in CLIENT.glob("*.py"):
        name = "fabric.client" if path.stem == "__init__" else f"fabric.client.{path.stem}"
        found = {
            node.module
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fabric.client.")
        }
        graph[name] = found
    return graph


def test_no_import_cycle_in_the_client() -> None:
    graph = client_imports()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(graph.get(module, ())):
            assert target not in path, f"import cycle: {' -> '.join([*path, target])}"
            if target not in done:
                visit(target, [*path, target])
        done.add(module)

    for module in sorted(graph):
        visit(module, [module])


def test_artifacts_and_orders_hold_a_transport_not_the_fabric() -> None:
    graph = client_imports()
    for module in ("fabric.client.models", "fabric.client.order", "fabric.client.drafts", "fabric.client.uploads"):
        assert "fabric.client.fabric" not in graph[module], module
