"""Lineage as a breadth-first walk: one batched query per hop (the frontier UNWound), so depth, the visited
set and the node and time limits are exact. Upstream follows lineage edges outgoing
(A -WAS_GENERATED_BY-> O -USED-> A' ...), downstream incoming; `both` is the union of the two walks
(not an undirected walk, which would wander from an input into its order's other outputs).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from aspects.backends.cypher import fill
from aspects.backends.protocol import Backend
from aspects.model import Lineage


def _node(urn: str, label: str, name: Any, status: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"urn": urn, "kind": label.lower()}
    if name is not None:
        node["name"] = name
    if status is not None:
        node["status"] = status
    return node


def walk(
    backend: Backend,
    root: dict[str, Any],
    *,
    rels: list[str],
    direction: str,
    depth: int,
    at: int,
    node_limit: int,
    time_limit: float,
) -> Lineage:
    deadline = time.monotonic() + time_limit
    root_urn = root["urn"]
    nodes: dict[str, dict[str, Any]] = {root_urn: _node(root_urn, root["label"], root.get("name"), root.get("status"))}
    edges: dict[str, dict[str, Any]] = {}
    truncated = False
    ways = {"upstream": ["out"], "downstream": ["in"], "both": ["out", "in"]}[direction]
    for way in ways:
        template = backend.q.LINEAGE_OUT if way == "out" else backend.q.LINEAGE_IN
        visited = {root_urn}
        frontier = {root_urn: root["label"]}
        for _hop in range(depth):
            if not frontier or truncated:
                break
            by_label: dict[str, list[str]] = defaultdict(list)
            for urn, label in frontier.items():
                by_label[label].append(urn)
            frontier = {}
            for label, urns in by_label.items():
                if time.monotonic() > deadline:
                    truncated = True
                    break
                rows = backend.run(fill(template, label=label, rels=rels), {"frontier": urns, "at": at})
                for row in rows:
                    other = row["dst"] if way == "out" else row["src"]
                    if other is None:  # a frontier node without edges (LadybugDB's OPTIONAL MATCH form)
                        continue
                    if other not in nodes:
                        if len(nodes) >= node_limit:
                            truncated = True
                            continue
                        nodes[other] = _node(other, row["label"], row["name"], row["status"])
                    edges.setdefault(
                        row["aspect"],
                        {"from": row["src"], "to": row["dst"], "rel": row["rel"], "aspect": row["aspect"]},
                    )
                    if other not in visited:
                        visited.add(other)
                        frontier[other] = row["label"]
        if truncated:
            break
    return Lineage(root=root_urn, nodes=list(nodes.values()), edges=list(edges.values()), truncated=truncated)
