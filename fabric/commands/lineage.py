"""`fabric lineage URN`: where an artifact came from, or what came of it, as a tree, JSON, DOT or Mermaid."""

from __future__ import annotations

import json
from typing import Any

import click

from fabric.commands.common import artifact_urn, client_command, echo_json


def _label(node: dict[str, Any] | None, urn: str) -> str:
    if not node:
        return urn
    extra = [str(node[key]) for key in ("name", "service", "status") if node.get(key)]
    kind = node.get("kind")
    return " ".join([urn, *([f"[{kind}]"] if kind else []), *extra])


def render_tree(graph: dict[str, Any], direction: str) -> str:
    """An indented tree from the root: upstream follows edges out of a node, downstream edges into it."""
    nodes = {node["urn"]: node for node in graph.get("nodes", [])}
    edges = graph.get("edges", [])
    root = graph["root"]
    lines = [_label(nodes.get(root), root)]

    def walk(urn: str, prefix: str, seen: set[str], upstream: bool) -> None:
        steps = (
            [(e["rel"], e["to"]) for e in edges if e["from"] == urn]
            if upstream
            else [(e["rel"], e["from"]) for e in edges if e["to"] == urn]
        )
        for index, (rel, other) in enumerate(steps):
            last = index == len(steps) - 1
            arrow = "→" if upstream else "←"
            cycle = " (seen above)" if other in seen else ""
            lines.append(f"{prefix}{'└── ' if last else '├── '}{rel} {arrow} {_label(nodes.get(other), other)}{cycle}")
            if not cycle:
                walk(other, prefix + ("    " if last else "│   "), seen | {other}, upstream)

    if direction in ("upstream", "both"):
        if direction == "both":
            lines.append("upstream:")
        walk(root, "", {root}, True)
    if direction in ("downstream", "both"):
        if direction == "both":
            lines.append("downstream:")
        walk(root, "", {root}, False)
    if graph.get("truncated"):
        lines.append("(truncated at the depth limit)")
    return "\n".join(lines)


def render_dot(graph: dict[str, Any]) -> str:
    out = ["digraph lineage {", "  rankdir=LR;", "  node [shape=box];"]
    for node in graph.get("nodes", []):
        label = "\\n".join(str(x) for x in (node.get("name"), node.get("kind"), node["urn"]) if x)
        style = ", style=bold" if node["urn"] == graph["root"] else ""
        out.append(
            f"  {json.dumps(node['urn'])} [label={json.dumps(label).replace(chr(92) * 2 + 'n', chr(92) + 'n')}{style}];"
        )
    for edge in graph.get("edges", []):
        out.append(f"  {json.dumps(edge['from'])} -> {json.dumps(edge['to'])} [label={json.dumps(edge['rel'])}];")
    out.append("}")
    return "\n".join(out)


def render_mermaid(graph: dict[str, Any]) -> str:
    ids = {node["urn"]: f"n{index}" for index, node in enumerate(graph.get("nodes", []))}
    for edge in graph.get("edges", []):
        for urn in (edge["from"], edge["to"]):
            ids.setdefault(urn, f"n{len(ids)}")
    nodes = {node["urn"]: node for node in graph.get("nodes", [])}
    out = ["flowchart LR"]
    for urn, key in ids.items():
        node = nodes.get(urn, {})
        text = "<br/>".join(str(x) for x in (node.get("name"), node.get("kind"), urn) if x).replace('"', "#quot;")
        out.append(f'  {key}["{text}"]')
    for edge in graph.get("edges", []):
        out.append(f"  {ids[edge['from']]} -->|{edge['rel']}| {ids[edge['to']]}")
    return "\n".join(out)


@click.command()
@click.argument("urn")
@click.option("--up", "direction", flag_value="upstream", default=True, help="What URN came from (default).")
@click.option("--down", "direction", flag_value="downstream", help="What came of URN.")
@click.option("--both", "direction", flag_value="both", help="Both directions.")
@click.option("--depth", default=10, show_default=True, type=click.IntRange(1, 50), help="How many steps to follow.")
@click.option("--at", default=None, help="The lineage as of this ISO 8601 time.")
@click.option(
    "--format", "fmt", default="tree", show_default=True, type=click.Choice(["tree", "json", "dot", "mermaid"])
)
@client_command
def lineage(fab: Any, urn: str, direction: str, depth: int, at: str | None, fmt: str) -> None:
    """Show the provenance of URN: the orders that made it and what they used (--up), or what it was used for (--down)."""
    graph = fab.lineage(artifact_urn(fab, urn), direction=direction, depth=depth, at=at)
    if fmt == "json":
        echo_json(graph)
    elif fmt == "dot":
        click.echo(render_dot(graph))
    elif fmt == "mermaid":
        click.echo(render_mermaid(graph))
    else:
        click.echo(render_tree(graph, direction))
