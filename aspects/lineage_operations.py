"""The store's lineage read: the root checked, the walk (`aspects.lineage.walk`), what a reader may not see redacted."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from aspects.backends.cypher import fill
from aspects.checks import micros
from aspects.errors import NotFound
from aspects.lineage import walk
from aspects.model import FAR_FUTURE, Lineage
from aspects.reader import Reader
from aspects.store_core import StoreCore

MAX_DEPTH = 50


class LineageOperations(StoreCore):
    def lineage(
        self,
        urn: str,
        *,
        direction: str = "upstream",
        depth: int = 10,
        at: datetime | None = None,
        node_limit: int = 10_000,
        time_limit: float = 5.0,
        reader: Reader | None = None,
        redact: Callable[[str], str] | None = None,
        also_readable: Callable[[list[str]], set[str]] | None = None,
    ) -> Lineage:
        """The lineage graph around an artifact or order; see `aspects.lineage.walk`.

        With a `reader`: NotFound if the root is an artifact it may not read; every other artifact it may not
        read is kept (the shape of the provenance stays honest) as a redacted node, `{"urn": redact(urn),
        "kind": "artifact", "redacted": true}`, and the aspects of its edges are not named. `also_readable(urns)`
        names those of `urns` the reader may read by a rule the store does not know (a repository's readers read
        its versions): they are neither refused as the root nor redacted.
        """
        if direction not in ("upstream", "downstream", "both"):
            raise ValueError("direction must be upstream, downstream or both")
        if not isinstance(depth, int) or not 0 <= depth <= MAX_DEPTH:
            raise ValueError(f"depth must be an integer from 0 to {MAX_DEPTH}")
        if node_limit < 1:
            raise ValueError("node_limit must be at least 1")
        label = self._label_of(urn)
        template = self._q.LINEAGE_ROOT if label == "Artifact" else self._q.LINEAGE_ROOT_PLAIN
        rows = self.backend.run(fill(template, label=label), {"urn": urn})
        if not rows:
            raise NotFound(f"no {label.lower()} {urn!r}")
        if reader is not None and label == "Artifact":
            try:
                self._readable_record(urn, reader)
            except NotFound:
                if also_readable is None or urn not in also_readable([urn]):
                    raise
        graph = walk(
            self.backend,
            rows[0],
            rels=self.registry.lineage_rels(),
            direction=direction,
            depth=depth,
            at=micros(at, "at") if at is not None else FAR_FUTURE,
            node_limit=node_limit,
            time_limit=time_limit,
        )
        if reader is None:
            return graph
        return self._redacted(graph, reader, redact or self._default_redact, also_readable)

    def _default_redact(self, urn: str) -> str:
        return f"urn:{self.namespace}:redacted:{hashlib.blake2b(urn.encode(), digest_size=16).hexdigest()}"

    def _redacted(
        self,
        graph: Lineage,
        reader: Reader,
        redact: Callable[[str], str],
        also_readable: Callable[[list[str]], set[str]] | None = None,
    ) -> Lineage:
        artifacts = [node["urn"] for node in graph.nodes if node["kind"] == "artifact" and node["urn"] != graph.root]
        hidden = set(artifacts) - self.readable_artifacts(artifacts, reader)
        if hidden and also_readable is not None:
            hidden -= also_readable(sorted(hidden))
        if not hidden:
            return graph
        nodes = [
            {"urn": redact(node["urn"]), "kind": "artifact", "redacted": True} if node["urn"] in hidden else node
            for node in graph.nodes
        ]
        edges = []
        for edge in graph.edges:
            if edge["from"] in hidden or edge["to"] in hidden:
                edge = {**edge, "aspect": None}
                edge["from"] = redact(edge["from"]) if edge["from"] in hidden else edge["from"]
                edge["to"] = redact(edge["to"]) if edge["to"] in hidden else edge["to"]
            edges.append(edge)
        return Lineage(root=graph.root, nodes=nodes, edges=edges, truncated=graph.truncated)
