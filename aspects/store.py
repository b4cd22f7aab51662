"""The aspect store: schema-validated aspects as edges of a provenance graph, over either backend.

`AspectStore` is composed by topic: `artifact_operations`, `aspect_operations`, `schema_operations` and
`lineage_operations`, over `store_core` (the backend, the registry, the clock and the shared graph
primitives). Synchronous and thread-safe: writes are serialised by a lock, reads go straight to the backend.
"""

from __future__ import annotations

from pathlib import Path

from aspects.artifact_operations import ArtifactOperations
from aspects.aspect_operations import AspectOperations
from aspects.backends import Backend, open_backend
from aspects.lineage_operations import LineageOperations
from aspects.schema_operations import SchemaOperations
from aspects.urns import DEFAULT_NAMESPACE


class AspectStore(ArtifactOperations, AspectOperations, SchemaOperations, LineageOperations):
    """Artifacts, aspects, schemas and lineage on one graph."""

    def __init__(self, backend: Backend, namespace: str = DEFAULT_NAMESPACE) -> None:
        super().__init__(backend, namespace)
        self._install_schemas()
        self._load_order()

    def ping(self) -> None:
        """Raise if the graph cannot be reached."""
        self.backend.ping()

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> AspectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(
    graph_url: str | None,
    data_dir: Path,
    *,
    neo4j_user: str | None = None,
    neo4j_password: str | None = None,
    neo4j_database: str | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    buffer_pool_size: int = 0,
) -> AspectStore:
    """LadybugDB at `data_dir/graph` when `graph_url` is empty; Neo4j for `bolt://`/`neo4j://` URLs."""
    backend = open_backend(
        graph_url,
        data_dir,
        neo4j_user=neo4j_user,
        neo4j_password=neo4j_password,
        neo4j_database=neo4j_database,
        buffer_pool_size=buffer_pool_size,
    )
    return AspectStore(backend, namespace)
